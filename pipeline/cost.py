"""Compute and energy accounting of one stage run: `metrics/<stage>.json`'s "cost".

`pipeline.runner.run_stage` runs every stage inside `track(cfg)`, so no stage has code for it
except the FLOPs, which only the stage knows (it returns them as metrics["flops"]):

- wall_time_s: the stage's wall-clock time (the same figure as the top-level "wall_time_s").
- cpu_time_s: user + system CPU seconds of this process and its descendants within the stage
  (getrusage RUSAGE_SELF + RUSAGE_CHILDREN, plus the descendants still running: ingest's and
  curate's datatrove workers run under a forkserver); torch's intra-op threads are this process.
- peak_rss_mb: the largest resident memory of this process or of any child it waited for
  (getrusage ru_maxrss, SELF and CHILDREN): the stage's peak, since each stage runs in a process
  of its own under `dvc repro` (in one process, as in tests, it is the peak of the process so far).
  datatrove's pool workers outlive the stage in their forkserver, so ingest's and curate's
  figure is the main process's.
- gpu_time_s: device-seconds. The rule: a stage that initialised CUDA (torch) holds its device
  until the process ends, busy or not, so it is charged its wall time for that one device; a
  stage that never initialised CUDA is charged 0.0, and on a CPU-only machine every stage is.
- flops: the stage's estimate (pretrain: flops_per_token x tokens trained; finetune:
  `transformer_flops`), null for the stages that do no model math.
- energy_kwh, co2e_kg: codecarbon's OfflineEmissionsTracker (no network: the grid's carbon
  intensity is codecarbon's table for cost.country_iso_code). CPU energy is read from RAPL where
  the kernel exposes it; elsewhere (VMs, AMD without powercap) codecarbon estimates it from its
  CPU TDP table x the stage's CPU load, with 4 W per thread for a CPU missing from its table.
  RAM is its DIMM model (at least 10 W on x86); NVIDIA GPUs are read through NVML.
  energy_method says which of these was used.

Under torchrun every process tracks itself and rank 0's figures are written: multiply by the
number of processes (pretrain's "processes") for the whole job.
"""
from __future__ import annotations

import contextlib
import logging
import resource
import sys
import time
from dataclasses import dataclass
from typing import Iterator, Literal
from unittest import mock

from pipeline.env import cpuinfo

log = logging.getLogger(__name__)


@dataclass
class Config:
    # ISO 3166-1 alpha-3 code of the electricity grid the machine draws from; its carbon
    # intensity is codecarbon's data/private_infra/global_energy_mix.json (2023 figures).
    country_iso_code: str = "USA"
    # process: the stage's own CPU load (its process and children), the right share on a shared
    # machine; machine: the whole machine's load, other users' work included.
    tracking_mode: Literal["process", "machine"] = "process"
    # Watts for the whole CPU at full load, replacing codecarbon's RAPL reading or TDP table
    # (e.g. a measured figure for a CPU it does not know); None: codecarbon's own.
    cpu_power_w: float | None = None

    def __post_init__(self):
        known = _energy_mix()
        if self.country_iso_code not in known:
            raise ValueError(f"country_iso_code: {self.country_iso_code!r} is not a country codecarbon has "
                             f"grid data for (an upper-case ISO 3166-1 alpha-3 code, e.g. USA, FRA, DEU)")
        if self.cpu_power_w is not None and self.cpu_power_w <= 0:
            raise ValueError(f"cpu_power_w: {self.cpu_power_w} <= 0")


def _energy_mix() -> dict:
    from codecarbon.input import DataSource

    return DataSource().get_global_energy_mix_data()


def transformer_flops(trainable_params: int, params: int, train_tokens: float, forward_tokens: float) -> float:
    """Training and inference FLOPs of a Transformer, Kaplan et al. 2020 ("Scaling Laws for Neural
    Language Models", section 2.1): a forward pass costs 2N FLOPs per token and forward + backward
    6N (the "6N rule"), N the non-embedding parameters; the attention-context term is left out
    (small while d_model > n_ctx / 12)."""
    return 6.0 * trainable_params * train_tokens + 2.0 * params * forward_tokens


@dataclass
class Usage:
    """What `track` measured; filled in when the tracked block ends."""
    cfg: Config
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    gpu_time_s: float = 0.0
    energy_kwh: float | None = None
    co2e_kg: float | None = None
    energy_method: str = "not measured"
    peak_rss_mb: float = 0.0

    def figures(self, flops: float | None) -> dict:
        # ms: fetch and report take a few
        return {"wall_time_s": round(self.wall_time_s, 3), "cpu_time_s": round(self.cpu_time_s, 3),
                "gpu_time_s": round(self.gpu_time_s, 3), "peak_rss_mb": round(self.peak_rss_mb, 1), "flops": flops, "energy_kwh": self.energy_kwh,
                "co2e_kg": self.co2e_kg, "energy_method": self.energy_method,
                "country_iso_code": self.cfg.country_iso_code}


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def _cpu_seconds() -> float:
    """This process's CPU seconds, its ended children's, and those of the descendants still
    running: datatrove's pool workers are children of a forkserver process that lives as long as
    this one, so their seconds reach RUSAGE_CHILDREN only at exit; the forkserver's own counters
    (children_user, children_system) hold them meanwhile. A stage's figure is the difference."""
    import psutil  # codecarbon's dependency

    total = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # ended since the listing
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _cuda_in_use() -> bool:
    torch = sys.modules.get("torch")  # a stage that never imported torch never touched a GPU
    return bool(torch is not None and torch.cuda.is_initialized())


def _tracker(cfg: Config):
    from codecarbon import OfflineEmissionsTracker

    # Quiet from the first line: codecarbon logs at INFO until its constructor sets log_level.
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    # Every key that codecarbon would otherwise take from ~/.codecarbon.config, ./.codecarbon.config
    # or CODECARBON_* variables and that writes a file, sends data or changes the figures is set
    # here: params alone decide them. output_methods=[] is save_to_file=False and the other
    # outputs off; an Electricity Maps token would fetch live intensities over the network.
    return OfflineEmissionsTracker(
        country_iso_code=cfg.country_iso_code, region=None, cloud_provider=None, cloud_region=None,
        tracking_mode=cfg.tracking_mode, force_cpu_power=cfg.cpu_power_w, force_ram_power=None,
        force_carbon_intensity_g_co2e_kwh=None, pue=1.0, output_methods=[], emissions_endpoint="",
        electricitymaps_api_token="", allow_multiple_runs=True, log_level="error")


def _start(tracker) -> None:
    # codecarbon asks py-cpuinfo for the CPU's name, which probes it in a subprocess (1.2 s on the
    # 2-core EPYC, in every stage's process); the kernel's /proc/cpuinfo has the same brand string.
    import codecarbon.core.cpu

    name = cpuinfo()[0]
    if name == "unknown CPU":  # no /proc/cpuinfo (macOS): let codecarbon probe
        tracker.start()
        return
    with mock.patch.object(codecarbon.core.cpu, "detect_cpu_model", lambda: name):
        tracker.start()


def _method(tracker, cfg: Config) -> str:
    """Which of codecarbon's methods gave the energy, with the power it assumed. The same text
    for every stage on one machine: the report lists the distinct methods."""
    cpu = next((h for h in tracker._hardware if type(h).__name__ == "CPU"), None)
    mode = getattr(cpu, "_mode", "unknown")
    if mode in ("intel_rapl", "windows_emi"):
        cpu_text = f"CPU measured ({mode})"
    elif mode == "cpu_load":
        cpu_text = (f"CPU estimated (cpu_load: {cpu._tdp:g} W at full load x the {cfg.tracking_mode}'s load, "
                    f"{_tdp_source(cfg)})")
    else:
        cpu_text = f"CPU estimated ({mode})"
    gpu_text = "GPU measured (NVML)" if any(type(h).__name__ == "GPU" for h in tracker._hardware) else "no GPU"
    return f"codecarbon {tracker._conf.get('codecarbon_version')}: {cpu_text}; RAM: DIMM model; {gpu_text}"


def _tdp_source(cfg: Config) -> str:
    from codecarbon.core import cpu, hardware_cache
    from codecarbon.core.util import count_cpus

    if cfg.cpu_power_w is not None:
        return "cost.cpu_power_w"
    # cpu_load mode has looked the CPU up already: this is the cached result, no second lookup.
    # A CPU missing from the table gets DEFAULT_POWER_PER_CORE per thread.
    if hardware_cache.get_cached_tdp(cpu).tdp == cpu.DEFAULT_POWER_PER_CORE * count_cpus():
        return f"codecarbon's default {cpu.DEFAULT_POWER_PER_CORE} W/thread: CPU not in its TDP table"
    return "TDP from codecarbon's CPU table"


@contextlib.contextmanager
def track(cfg: Config) -> Iterator[Usage]:
    """Measure the block; the yielded Usage is filled in when it ends. Accounting never fails a
    stage: if codecarbon fails, energy stays None and energy_method says why."""
    usage = Usage(cfg)
    tracker = None
    try:
        tracker = _tracker(cfg)
        _start(tracker)
    except Exception as exc:  # codecarbon already swallows its own errors; this is a last guard
        log.warning("cost: codecarbon did not start (%s); no energy figures", exc)
        usage.energy_method, tracker = f"not measured: codecarbon failed to start ({exc})", None
    cpu0, start = _cpu_seconds(), time.perf_counter()
    try:
        yield usage
    finally:
        usage.wall_time_s = time.perf_counter() - start
        usage.cpu_time_s = _cpu_seconds() - cpu0
        usage.gpu_time_s = usage.wall_time_s if _cuda_in_use() else 0.0
        usage.peak_rss_mb = _peak_rss_mb()
        if tracker is not None:
            usage.energy_kwh, usage.co2e_kg, usage.energy_method = _stop(tracker, cfg)


def _stop(tracker, cfg: Config) -> tuple[float | None, float | None, str]:
    """(kWh, kg CO2e, method) of the tracked run; never raises: it runs as the stage ends, and
    may run as the stage fails."""
    try:
        # stop() skips its last reading when the previous one is under 50 ms old, which would
        # leave a stage that short (fetch, report) at 0 kWh: take it here.
        tracker._measure_power_and_energy()
        co2e = tracker.stop()
        return tracker.final_emissions_data.energy_consumed, co2e, _method(tracker, cfg)
    except Exception as exc:
        log.warning("cost: codecarbon did not measure (%s); no energy figures", exc)
        return None, None, f"not measured: codecarbon failed ({exc})"
