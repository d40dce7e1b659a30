"""Peak FLOP/s of the hardware, the denominator of MFU.

CPU: cores x clock x FLOPs per cycle per core for the precision, from the ISA flags:
- bf16 with AMX-BF16: 1024 (one AMX TMUL unit: 16x32 bf16 dot-products into fp32 per cycle,
  Intel's figure for Sapphire Rapids); with AVX512-BF16 only: 128 (2 FMA ports x 16 lanes x
  2 products x 2 FLOPs).
- fp32 with AVX-512: 64 (2 FMA ports x 16 lanes x 2); AVX2+FMA: 32.
The clock is /proc/cpuinfo's "cpu MHz" (a VM reports its nominal frequency; turbo is ignored).
GPU: the vendor's dense bf16 / tf32 figure for known cards.
`pretrain.peak_flops` overrides all of this.

That datasheet-style CPU figure is what the silicon could do, not what torch's kernels reach: on
CPU the denominator of MFU is `measured_peak`, the best rate of large square matmuls at the run's
precision and thread count, and the datasheet figure is kept beside it (metrics["mfu_datasheet"]).
"""
from __future__ import annotations

import os
import time

import torch

from pipeline.env import cpuinfo

# Dense (no sparsity) tensor-core peaks, FLOP/s: (bf16, fp32 via tf32) from NVIDIA datasheets.
GPU_PEAKS = {"H200": (989e12, 494e12), "H100": (989e12, 494e12), "A100": (312e12, 156e12),
             "L40S": (362e12, 183e12), "A10": (125e12, 62.5e12), "4090": (165e12, 82.6e12)}


def cpu_peak(precision: str) -> tuple[float, str]:
    _, flags, hz = cpuinfo()
    cores = len(os.sched_getaffinity(0))
    if precision == "bf16":
        per_cycle, isa = (1024, "AMX-BF16") if "amx_bf16" in flags else \
            (128, "AVX512-BF16") if "avx512_bf16" in flags else (0, "no bf16 units")
    else:
        per_cycle, isa = (64, "AVX-512 FMA") if "avx512f" in flags else \
            (32, "AVX2 FMA") if "fma" in flags else (8, "SSE")
    if not per_cycle or not hz:
        return 0.0, f"unknown CPU peak ({isa}); set pretrain.peak_flops"
    peak = cores * hz * per_cycle
    return peak, f"{cores} cores x {hz / 1e9:.2f} GHz x {per_cycle} {precision} FLOP/cycle ({isa})"


def gpu_peak(precision: str) -> tuple[float, str]:
    name = torch.cuda.get_device_name()
    for key, (bf16, fp32) in GPU_PEAKS.items():
        if key in name:
            return (bf16 if precision == "bf16" else fp32), f"{name} datasheet, dense {precision}"
    return 0.0, f"unknown GPU {name}; set pretrain.peak_flops"


def peak_flops(device: torch.device, precision: str, world_size: int, local_world_size: int,
               override: float) -> tuple[float, str]:
    """Peak of everything the job runs on: per GPU x processes, or per CPU host x hosts."""
    if override:
        return override, "pretrain.peak_flops"
    if device.type == "cuda":
        peak, how = gpu_peak(precision)
        return peak * world_size, f"{world_size} x {how}"
    peak, how = cpu_peak(precision)
    hosts = max(1, world_size // max(1, local_world_size))
    return peak * hosts, how if hosts == 1 else f"{hosts} hosts x {how}"


# 2048^3 x 2 = 17 GFLOP a matmul: large enough for oneDNN's best blocking, ~20-40 ms on 2 cores
PROBE_SIZE = 2048
PROBE_ROUNDS = 3     # best of: a busy neighbour lowers one round, never raises it
PROBE_MATMULS = 4    # per round


def measured_peak(precision: str, processes: int = 1) -> float:
    """FLOP/s that torch's matmul reaches on this process's threads at `precision` (best round of
    PROBE_MATMULS products of PROBE_SIZE-square matrices), times the processes of the job, each
    of which has its own share of the cores."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    own = torch.Generator().manual_seed(0)  # the training RNG's stream stays as it was
    a, b = (torch.randn(PROBE_SIZE, PROBE_SIZE, dtype=dtype, generator=own) for _ in range(2))
    torch.mm(a, b)  # warm-up: oneDNN picks and caches its kernel
    best = float("inf")
    for _ in range(PROBE_ROUNDS):
        start = time.perf_counter()
        for _ in range(PROBE_MATMULS):
            torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return processes * PROBE_MATMULS * 2 * PROBE_SIZE ** 3 / best
