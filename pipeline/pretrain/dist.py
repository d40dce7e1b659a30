"""Process group setup for torchrun: DDP over gloo (CPU) or NCCL (GPU); a no-op when alone."""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist

from pipeline.errors import ConfigError


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            tdist.barrier()

    def sum(self, *values: float) -> list[float]:
        """Sum scalars over processes (float64: exact for token counts)."""
        t = torch.tensor(values, dtype=torch.float64)
        if self.world > 1:
            t = t.to(self.device)
            tdist.all_reduce(t)
        return t.cpu().tolist()

    def sum_counts(self, counts: dict[str, int]) -> dict[str, float | torch.Tensor]:
        """Each count summed over processes: the host's own numbers when alone; else float32
        device scalars (exact below 2^24, far above a step's tokens) from an all-reduce that the
        host does not wait for: the copy is from pinned memory on a GPU."""
        if self.world == 1:
            return {k: float(v) for k, v in counts.items()}
        t = torch.tensor(list(counts.values()), dtype=torch.float32)
        t = t.pin_memory() if self.device.type == "cuda" else t
        return dict(zip(counts, self.all_sum(t.to(self.device, non_blocking=True)).unbind()))

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        """`t` summed over processes, on its device, without a host sync."""
        if self.world > 1:
            tdist.all_reduce(t)
        return t

    def gather(self, obj) -> list:
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        tdist.all_gather_object(out, obj)
        return out


def setup(device: str = "auto") -> Dist:
    """Read torchrun's environment; pick the device (`pretrain.device`); start the process group
    when there is more than one process. On a GPU, fp32 matmuls and convolutions use TF32, the
    rate hardware.py's GPU peak assumes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "cuda" and not gpus:
        raise ConfigError(f"pretrain.device: cuda, but torch {torch.__version__} sees no CUDA device "
                          f"(set pretrain.device=auto or cpu)")
    chosen = torch.device("cpu")
    if device != "cpu" and gpus:
        if local_rank >= gpus:
            raise ConfigError(f"pretrain.device: process {local_rank} of this node has no GPU of its own "
                              f"({gpus} visible): run torchrun with --nproc_per_node {gpus} or fewer, "
                              f"or pretrain.device=cpu")
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world > 1 and not tdist.is_initialized():
        tdist.init_process_group("nccl" if chosen.type == "cuda" else "gloo",
                                 timeout=datetime.timedelta(minutes=30))
    return Dist(rank, world, local_rank, local_world, chosen)


def teardown() -> None:
    if tdist.is_initialized():
        tdist.destroy_process_group()
