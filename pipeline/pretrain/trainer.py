"""The training loop: micro-batches, DDP, bf16 autocast, clipping, eval, logging, checkpoints."""
from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from pipeline.pretrain import checkpoint
from pipeline.pretrain.data import Examples
from pipeline.pretrain.dist import Dist
from pipeline.pretrain.loader import MicroBatches, loader, to_device
from pipeline.pretrain.loss import counts, headline, loss_sums, val_metrics, weights
from pipeline.pretrain.optim import build_optimizer, build_scheduler
from pipeline.pretrain.sparse import SparseMLM, predicted_rows

log = logging.getLogger(__name__)
GRAD_NORM = "grad_norm"  # beside the loss terms in train_step's figures


@dataclass
class History:
    train: list[tuple[int, float, float]] = field(default_factory=list)  # step, loss, lr
    val: list[tuple[int, dict[str, float]]] = field(default_factory=list)  # step, loss.val_metrics


# torch.compile traces data-dependent shapes instead of breaking the graph on them: ELECTRA's
# generator samples at the masked positions (a nonzero whose size depends on the batch), which
# split its step into 4 graphs (torch._dynamo.explain). The MLMs need it no more: SparseMLM
# gathers rows the host found. Every family's step is one graph (tests/test_pretrain_loader.py).
TRACE_DYNAMIC_SHAPES = {"capture_dynamic_output_shape_ops": True, "capture_scalar_outputs": True}


def compiled(model: torch.nn.Module) -> torch.nn.Module:
    for key, value in TRACE_DYNAMIC_SHAPES.items():  # process-wide: compile traces at the first call
        setattr(torch._dynamo.config, key, value)
    return torch.compile(model)


class Trainer:
    def __init__(self, cfg, d: Dist, model: torch.nn.Module, train: Examples, val: Examples,
                 ckpt_dir: Path, flops_per_token: float, peak_flops: float):
        self.cfg, self.d, self.val_data, self.ckpt_dir = cfg, d, val, ckpt_dir
        self.model = model.to(d.device)
        self.optimizer = build_optimizer(self.model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg)
        # BERT, ModernBERT and lmpipe MLMs train and evaluate through SparseMLM (predicted rows
        # gathered by index); it adds no weights, so self.model is what is saved
        self.sparse = bool(getattr(getattr(model, "config", None), "sparse_prediction", False))
        trained = self.scored = SparseMLM(self.model) if self.sparse else self.model
        wrapped = DDP(trained, device_ids=[d.device.index] if d.device.type == "cuda" else None) \
            if d.world > 1 else trained
        self.forward = compiled(wrapped) if cfg.compile else wrapped
        self.ddp = wrapped if d.world > 1 else None
        self.batches = MicroBatches(train, cfg, d.rank, d.world, self.sparse)
        self._queue, self._queue_step = None, -1  # the loader's iterator, and the step it yields next
        self.flops_per_token, self.peak_flops = flops_per_token, peak_flops
        self.step, self.history, self.resumed_from = 0, History(), 0
        self.train_seconds = 0.0  # in train steps, eval and checkpoints excluded
        # ... and the same without the run's first log window, which holds torch.compile's
        # warm-up (30-50 s on CPU) and the allocator's: the throughput figures
        self.steady_seconds, self.steady_steps = 0.0, 0

    # ------------------------------------------------------------------ state
    def autocast(self):
        return torch.autocast(self.d.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")

    def save_checkpoint(self) -> None:
        rng = self.d.gather(checkpoint.rng_state())  # every process's dropout RNG
        if self.d.main:
            state = {"step": self.step, "fingerprint": checkpoint.fingerprint(self.cfg),
                     "config": checkpoint.training_config(self.cfg), "model": self.model.state_dict(),
                     "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                     "rng": rng, "world": self.d.world, "history": self.history,
                     "data": {"examples_seen": self.step * self.cfg.batch_size}}
            path = checkpoint.save(self.ckpt_dir, state, self.cfg.keep_checkpoints)
            log.info("checkpoint %s", path)
        self.d.barrier()

    def resume(self, path: Path) -> None:
        state = checkpoint.load(path, self.cfg)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["world"] == self.d.world:
            checkpoint.set_rng_state(state["rng"][self.d.rank])
        else:  # data order is global, only dropout masks change with the process count
            log.warning("resuming %d-process checkpoint with %d processes: dropout RNG reseeded",
                        state["world"], self.d.world)
            torch.manual_seed(self.cfg.seed + 7919 * state["step"] + self.d.rank)
        assert state["data"]["examples_seen"] == state["step"] * self.cfg.batch_size
        self.step = self.resumed_from = state["step"]
        self.history = state["history"]
        log.info("resumed from %s (step %d)", path, self.step)

    # ------------------------------------------------------------------ steps
    def micro_batches(self) -> tuple[list[dict[str, torch.Tensor]], dict[str, int]]:
        """This process's share of the current step's global batch, as grad_accum micro-batches
        on the device, and the share's counts (loss.counts), which the loader took on the host:
        counting on the device would make the host wait for it. The loader restarts at the
        current step when the step moved on its own (a resume)."""
        if self._queue_step != self.step:
            workers = self.cfg.loader_workers
            self._queue = iter(loader(self.batches, self.step, workers, pin=self.d.device.type == "cuda"))
        self._queue_step = self.step + 1
        out, mine = [], {}
        for _ in range(self.cfg.grad_accum):
            batch, share = next(self._queue)
            for k, c in share.items():
                mine[k] = mine.get(k, 0) + c
            out.append(to_device(batch, self.d.device))
        return out, mine

    def train_step(self) -> dict[str, torch.Tensor]:
        """One optimizer step. Nothing is read back from the device: it returns each term's mean
        over the step and the grad norm as device scalars, for `read_back` at the next log step,
        so a GPU never idles while the host waits for a loss it does not need yet."""
        micro, mine = self.micro_batches()
        n = self.d.sum_counts(mine)
        w = weights(self.cfg)
        totals: dict[str, torch.Tensor] = {}
        for i, batch in enumerate(micro):
            last = i == len(micro) - 1
            sync = contextlib.nullcontext() if last or self.ddp is None else self.ddp.no_sync()
            with sync:
                with self.autocast():
                    sums = loss_sums(self.forward, batch)
                # DDP averages gradients over processes; x world turns that average into the sum,
                # so each term is sum / (its count over the whole step), whatever the split.
                (sum(w[k] * v / n[k] for k, v in sums.items() if k in w) * self.d.world).backward()
            for k, v in sums.items():
                totals[k] = totals.get(k, 0) + v.detach()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        # float64, as the means were when they were Python floats: the logged losses stay the same
        summed = self.d.all_sum(torch.stack([totals[k].double() for k in totals]))
        return {**{k: summed[j] / n[k] for j, k in enumerate(totals)}, GRAD_NORM: grad_norm.detach()}

    def read_back(self, steps: list[dict[str, torch.Tensor]]) -> list[tuple[float, float, dict[str, float]]]:
        """The figures of `steps` (train_step's results) in one device-to-host copy: (headline
        loss, grad norm, each term's mean) per step."""
        if not steps:
            return []
        names = list(steps[0])
        rows = torch.stack([torch.stack([f[k].double() for k in names]) for f in steps]).tolist()
        out = []
        for row in rows:
            means = {k: v for k, v in zip(names, row) if k != GRAD_NORM}
            out.append((headline(means, self.cfg), row[names.index(GRAD_NORM)], means))
        return out

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Held-out metrics (loss.val_metrics), summed over the first eval_sequences windows."""
        self.model.eval()
        n = min(self.cfg.eval_sequences, len(self.val_data.stream))
        mine = list(range(self.d.rank, n, self.d.world))
        # ELECTRA samples replacements: the same draws at every evaluation, apart from training's RNG
        rng = torch.Generator(self.d.device).manual_seed(self.cfg.seed + 1 + self.d.rank)
        sums: dict[str, float] = {}
        n_by: dict[str, int] = {}
        micro = self.batches.micro
        for i in range(0, len(mine), micro):
            host = self.val_data.batch(mine[i:i + micro])
            host = predicted_rows(host) if self.sparse else host
            batch = {k: v.to(self.d.device) for k, v in host.items()}
            with self.autocast():
                terms = loss_sums(self.scored, batch, rng)
            n = counts(host)
            for k, v in terms.items():
                sums[k], n_by[k] = sums.get(k, 0.0) + float(v), n_by.get(k, 0) + n[k]
        self.model.train()
        names = list(sums)
        totals = self.d.sum(*(sums[k] for k in names), *(n_by[k] for k in names))
        means = {k: totals[j] / max(totals[len(names) + j], 1) for j, k in enumerate(names)}
        return val_metrics(means, self.cfg)

    def fit(self) -> None:
        cfg = self.cfg
        self.model.train()
        tokens_per_step = cfg.batch_size * cfg.seq_len
        window_s, window_steps = 0.0, 0  # time in train steps only: eval and checkpoints excluded
        pending: list[tuple[int, float, dict[str, torch.Tensor]]] = []  # steps not read back yet
        while self.step < cfg.max_steps:
            lr = self.scheduler.get_last_lr()[0]
            start = time.perf_counter()
            pending.append((self.step + 1, lr, self.train_step()))
            window_s += time.perf_counter() - start
            self.step += 1
            window_steps += 1
            log_now = self.step % cfg.log_every == 0 or self.step == cfg.max_steps
            checkpoint_now = self.step % cfg.checkpoint_every == 0 or self.step == cfg.max_steps
            if not (log_now or checkpoint_now):
                continue
            # Read back once per window. A non-finite loss is therefore caught up to log_every
            # steps late (nanoGPT's trade too), and the error names the first step it appeared.
            start = time.perf_counter()
            figures = self.read_back([f for _, _, f in pending])
            window_s += time.perf_counter() - start  # the wait for the device is train time
            for (step, step_lr, _), (loss, _, _) in zip(pending, figures):
                self.history.train.append((step, loss, step_lr))
                if not math.isfinite(loss):
                    raise FloatingPointError(f"pretrain: loss is {loss} at step {step}; lower pretrain.lr")
            pending.clear()
            if log_now:
                loss, grad_norm, terms = figures[-1]
                self.train_seconds += window_s
                if self.step - window_steps > self.resumed_from:  # not the first window
                    self.steady_seconds += window_s
                    self.steady_steps += window_steps
                tok_s = window_steps * tokens_per_step / window_s
                mfu = tok_s * self.flops_per_token / self.peak_flops if self.peak_flops else float("nan")
                # several terms (SOP, ELECTRA): each one's mean in brackets after the headline loss
                parts = "" if list(terms) == ["lm"] else " (" + ", ".join(f"{k} {v:.4f}" for k, v in terms.items()) + ")"
                if self.d.main:
                    log.info("step %d/%d | loss %.4f%s | lr %.2e | grad_norm %.2f | %.0f tok/s | mfu %.2f%% | %.0f ms/step",
                             self.step, cfg.max_steps, loss, parts, lr, grad_norm, tok_s, 100 * mfu,
                             1000 * window_s / window_steps)
                window_s, window_steps = 0.0, 0
            if self.step % cfg.eval_every == 0 or self.step == cfg.max_steps:
                val = self.evaluate()
                self.history.val.append((self.step, val))
                if self.d.main:
                    log.info("step %d | %s", self.step, " | ".join(f"{k} {v:.4f}" for k, v in val.items()))
            if checkpoint_now:
                self.save_checkpoint()
