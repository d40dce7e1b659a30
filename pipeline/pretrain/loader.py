"""The training batches, built ahead of the step by DataLoader workers.

Item j of a run is micro-batch j % grad_accum of step j // grad_accum, this process's share of it.
Its examples are Examples' pure function of (seed, global index), so a batch is the same whether
a worker or the training thread builds it, whatever the process count, and after a resume.

A worker returns the batch in int32 (half of int64's bytes over the bus; the ids fit), with the
step's counts taken on the host (loss.counts), so the training loop never asks the device for
them. On a GPU the batches land in pinned memory, so `non_blocking` copies overlap the step
(from pageable memory they would be synchronous). `loader_workers: 0` builds them on the
training thread, as the CPU profiles do: on two cores a worker would share them with the
step's two threads, and the masking is ~1 ms of a ~330 ms step there (bench/README.md).
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from pipeline.pretrain.data import Examples
from pipeline.pretrain.loss import counts
from pipeline.pretrain.sparse import predicted_rows

HostBatch = tuple[dict[str, torch.Tensor], dict[str, int]]  # (int32 tensors, loss.counts)


def compact(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(torch.int32) if v.dtype == torch.int64 else v for k, v in batch.items()}


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Copied as they are, then widened on the device: embedding lookups and cross_entropy's
    targets take int64."""
    moved = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    return {k: v.long() if v.dtype == torch.int32 else v for k, v in moved.items()}


class MicroBatches(Dataset):
    def __init__(self, examples: Examples, cfg, rank: int, world: int, sparse: bool = False):
        """sparse: the batches carry the predicted rows (sparse.predicted_rows) for SparseMLM."""
        self.examples, self.cfg, self.rank, self.sparse = examples, cfg, rank, sparse
        self.micro = cfg.batch_size // (world * cfg.grad_accum)  # sequences per micro-batch, per process

    def __len__(self) -> int:
        return self.cfg.max_steps * self.cfg.grad_accum

    def __getitem__(self, j: int) -> HostBatch:
        step, m = divmod(j, self.cfg.grad_accum)
        per_micro = self.cfg.batch_size // self.cfg.grad_accum  # sequences per micro-batch, all processes
        first = step * self.cfg.batch_size + m * per_micro + self.rank * self.micro
        batch = self.examples.batch(list(range(first, first + self.micro)))
        share = counts(batch)
        return compact(predicted_rows(batch) if self.sparse else batch), share


def loader(batches: MicroBatches, first_step: int, workers: int, pin: bool) -> DataLoader:
    """The run's micro-batches in order from `first_step` (a resumed run starts there)."""
    return DataLoader(batches, batch_size=None, sampler=range(first_step * batches.cfg.grad_accum, len(batches)),
                      num_workers=workers, pin_memory=pin,
                      # its own generator: an iterator draws a worker seed from the one given, and
                      # from torch's global RNG it would shift dropout's and ELECTRA's samples
                      generator=torch.Generator(),
                      # each worker keeps 2 micro-batches ready (torch's default): with 4 workers, 8
                      prefetch_factor=2 if workers else None)
