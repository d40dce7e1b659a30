"""pretrain stage: train a transformers model on the token shards (MLM, causal LM or ELECTRA).

One process: `lmpipe pretrain`. Several: `torchrun --nproc_per_node N -m pipeline pretrain`
(DDP; gloo on CPU, NCCL on GPU). Output: paths.model, a `save_pretrained` directory with the
tokenizer; checkpoints of an unfinished run in `<paths.model>.partial/checkpoints/`.
"""
from __future__ import annotations

import contextlib
import logging
import shutil

import torch

from pipeline.artifacts import atomic_dir, partial_path, save_config
from pipeline.config import resolve_path
from pipeline.errors import ConfigError
from pipeline.pretrain import checkpoint, dist, export, hardware, inputs
from pipeline.pretrain.config import Arch, Config
from pipeline.pretrain.data import Examples, TokenStream, window_length
from pipeline.pretrain.model import build_model, exported, matmul_params, train_flops_per_token
from pipeline.pretrain.trainer import Trainer
from pipeline.tokenizer.mixture import passes

__all__ = ["Arch", "Config", "run"]
log = logging.getLogger(__name__)


def run(cfg: Config) -> dict:
    d = dist.setup(cfg.device)
    try:
        return _run(cfg, d)
    finally:
        dist.teardown()


def _run(cfg: Config, d: dist.Dist) -> dict:
    if cfg.batch_size % (d.world * cfg.grad_accum):
        raise ConfigError(f"pretrain.batch_size: {cfg.batch_size} does not divide across {d.world} processes "
                          f"x {cfg.grad_accum} accumulation steps")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if d.device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    tok_dir, tokens_dir = resolve_path(cfg.tokenizer), resolve_path(cfg.tokens)
    tok = inputs.load_tokenizer(tok_dir)
    index = inputs.check(cfg, tok, tok_dir, tokens_dir)
    specials = inputs.specials(tok, cfg.objective)
    length, stride = window_length(cfg)
    train = Examples(TokenStream(tokens_dir, index, "train", length, stride), cfg, specials, cfg.seed, shuffle=True)
    val = Examples(TokenStream(tokens_dir, index, "val", length, stride), cfg, specials, cfg.seed + 1, shuffle=False)

    torch.manual_seed(cfg.seed)  # same initial weights in every process
    model = build_model(cfg, len(tok), specials)
    torch.manual_seed(cfg.seed + d.rank)  # then each process its own dropout stream
    flops = train_flops_per_token(model, cfg)
    peak, peak_how = hardware.peak_flops(d.device, cfg.precision, d.world, d.local_world, cfg.peak_flops)
    # CPU MFU is against what torch's matmul reaches here (hardware.measured_peak), the datasheet beside it
    measured = hardware.measured_peak(cfg.precision, d.world) if d.device.type == "cpu" and not cfg.peak_flops else 0.0
    denominator = measured or peak
    if d.main:
        log.info("pretrain: %s, %.2fM params, %d train / %d val windows of %d tokens, %d process(es); "
                 "peak %.3g FLOP/s (%s)%s", type(model).__name__, sum(p.numel() for p in model.parameters()) / 1e6,
                 len(train.stream), len(val.stream), cfg.seq_len, d.world, peak, peak_how,
                 f"; measured {measured:.3g} FLOP/s ({cfg.precision} matmul), MFU's denominator" if measured else "")

    with contextlib.ExitStack() as stack:
        # Only the first process owns the output directory; the others read its checkpoints.
        work = stack.enter_context(atomic_dir(cfg.model, resume=cfg.resume)) if d.main \
            else partial_path(resolve_path(cfg.model))
        d.barrier()
        trainer = Trainer(cfg, d, model, train, val, work / "checkpoints", flops, denominator)
        last = checkpoint.latest(work / "checkpoints") if cfg.resume else None
        if last:
            trainer.resume(last)
        trainer.fit()
        d.barrier()
        if d.main:
            export.save_model(exported(model), tok, cfg.seq_len, work)
            export.write_card(exported(model), cfg, trainer.history, work)
            save_config(cfg, work, "lmpipe_pretrain.yaml")
            export.write_curves(trainer.history, cfg.batch_size * cfg.seq_len)
            if not cfg.keep_final_checkpoint:
                shutil.rmtree(work / "checkpoints", ignore_errors=True)

    steps_run = cfg.max_steps - trainer.resumed_from
    # throughput after the first log window (compile and allocator warm-up), unless there is no other
    timed_steps, timed_s = ((trainer.steady_steps, trainer.steady_seconds) if trainer.steady_steps
                            else (steps_run, trainer.train_seconds))
    tok_s = timed_steps * cfg.batch_size * cfg.seq_len / timed_s if timed_s else 0.0
    _, val = trainer.history.val[-1]
    recent = [loss for _, loss, _ in trainer.history.train[-cfg.log_every:]]
    return {
        "model_class": type(exported(model)).__name__, "params": sum(p.numel() for p in model.parameters()),
        **({"exported_params": sum(p.numel() for p in exported(model).parameters())} if exported(model) is not model
           else {}),  # ELECTRA: the discriminator alone
        "matmul_params": matmul_params(model), "steps": cfg.max_steps, "resumed_from_step": trainer.resumed_from,
        "tokens_seen": cfg.max_steps * cfg.batch_size * cfg.seq_len,
        "epochs": round(cfg.max_steps * cfg.batch_size / len(train.stream), 3),
        # passes over each source's unique tokens (the stream tokens the windows read)
        "passes_per_source": passes(index.get("mixture") or {}, cfg.max_steps * cfg.batch_size * train.stream.length),
        "final_loss": trainer.history.train[-1][1], "final_loss_avg": sum(recent) / len(recent),
        **val, "processes": d.world, "precision": cfg.precision,
        "train_seconds": round(trainer.train_seconds, 2), "tokens_per_s": round(tok_s, 1),
        "mfu": round(tok_s * flops / denominator, 5) if denominator else None,
        "mfu_datasheet": round(tok_s * flops / peak, 5) if peak else None,
        "peak_flops": peak, "peak_flops_source": peak_how, "peak_flops_measured": measured or None,
        "flops_per_token": flops,
        # the most GPU memory torch's allocator held (host memory: metrics["cost"]["peak_rss_mb"])
        "gpu_peak_memory_gib": round(torch.cuda.max_memory_allocated(d.device) / 2**30, 2) if d.device.type == "cuda" else None,
        # the training steps this run took, every process's share (metrics["cost"], pipeline/cost.py)
        "flops": flops * steps_run * cfg.batch_size * cfg.seq_len,
    }
