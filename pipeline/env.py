"""Process-wide environment the pipeline sets itself instead of relying on the shell.

Libraries read these variables at import time, so this runs on `import pipeline`, before
anything else of ours imports them.
"""
import os
from pathlib import Path

# Where shipped code and resources live.
PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout holding params.yaml and data/: LMPIPE_ROOT, else the working directory
    (`dvc repro` runs stage commands from the repository root)."""
    return Path(os.environ.get("LMPIPE_ROOT") or os.getcwd()).resolve()


def cpuinfo() -> tuple[str, set[str], float]:
    """(model name, ISA flags, clock in Hz) of the first CPU in /proc/cpuinfo."""
    path = Path("/proc/cpuinfo")
    text = path.read_text() if path.exists() else ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    mhz = fields.get("cpu MHz", "")
    return (fields.get("model name", "unknown CPU"), set(fields.get("flags", "").split()),
            float(mhz) * 1e6 if mhz.replace(".", "", 1).isdigit() else 0.0)


def cpu_model() -> str:
    """`Intel(R) Xeon(R) Processor, 2 cores, AMX-BF16`: what the stage times were measured on.
    The bf16 units matter most: without AMX (AMD EPYC, AVX512-BF16 only) the model stages take
    about 2x as long, and their bf16 results differ in the last bits."""
    name, flags, _ = cpuinfo()
    bf16 = "AMX-BF16" if "amx_bf16" in flags else "AVX512-BF16" if "avx512_bf16" in flags else "no bf16 units"
    return f"{name}, {len(os.sched_getaffinity(0))} cores, {bf16}"


def network_configured() -> bool:
    """A network is used only when the user says so: LMPIPE_ONLINE=1."""
    return os.environ.get("LMPIPE_ONLINE", "0").lower() in ("1", "true", "yes")


def configure_environment() -> None:
    if not network_configured():
        # Without these, transformers/datasets try the hub first and stall on a closed network.
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ.setdefault(var, "1")
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A project-local Prefect home keeps its SQLite DB and profiles out of ~/.prefect.
    os.environ.setdefault("PREFECT_HOME", str(project_root() / ".prefect"))
    # A flow run without PREFECT_API_URL starts an ephemeral server, and Prefect gives it 20 s.
    # On 2 busy cores it took longer (a CI run: "Timed out while attempting to connect to
    # ephemeral Prefect API server"; 13 s when idle), so allow 90.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # tldextract (used by datatrove's URL filter) fetches the public suffix list unless told not to.
    os.environ.setdefault("TLDEXTRACT_CACHE", str(project_root() / ".cache" / "tldextract"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # OpenMP threads that spin while waiting stall each other whenever another process holds a
    # core: on 2 shared cores torch fine-tuning ran at 4 examples/s with the default policy and
    # 58-74 with PASSIVE. Must be set before torch loads its OpenMP runtime.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def training_device_args(bf16: bool) -> dict:
    """The device part of transformers' TrainingArguments, for every stage that fine-tunes: on a
    GPU, batches in pinned memory (their copies overlap the step) and TF32 for the fp32 matmuls
    (Ampere and later); on a CPU, use_cpu, without which transformers refuses bf16 there."""
    import torch

    cuda = torch.cuda.is_available()
    return {"bf16": bf16, "use_cpu": not cuda, "dataloader_pin_memory": cuda,
            "tf32": True if cuda and torch.cuda.get_device_capability()[0] >= 8 else None}
