"""Can the pretraining loader keep an H100 fed? Micro-batches per second for the gpu profile.

    .venv/bin/python bench/loader.py [--batches 24] [--workers 0 1 2 4]

The gpu profile's micro-batch (512 x 128 tokens, 40% masking) built from a token shard of random
ids on disk (np.memmap, as the tokenizer stage writes them: the loader reads windows and masks
them whatever the ids), by pipeline/pretrain/loader.py with 0 (the training thread) to N worker
processes. Beside it, the bare library doing the same masking: transformers'
DataCollatorForLanguageModeling (numpy) on the same windows, on one thread.

The bar: the step rate an H100 would run the gpu profile's model at, FLOPs per step /
(40% x 989 TFLOP/s dense bf16); issue 16's goal is at least 2x that rate. On this 2-core machine
more than one worker shares the cores with the others: the rate per worker is what a host with
a core per worker would get from each.
Writes bench/results/loader.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from pipeline.env import cpu_model  # noqa: E402  (after the sys.path insert)
from pipeline.pretrain.data import Examples, Specials, TokenStream, window_length  # noqa: E402
from pipeline.pretrain.loader import MicroBatches, loader  # noqa: E402
from pipeline.pretrain.model import build_model, train_flops_per_token  # noqa: E402
from pipeline.runner import resolve_config  # noqa: E402

RESULTS = REPO / "bench" / "results" / "loader.json"
H100_BF16_DENSE = 989e12  # FLOP/s, NVIDIA's H100 SXM datasheet (without sparsity)
TARGET_MFU = 0.4          # issue 16's goal for the gpu profile
SHARD_TOKENS = 50_000_000  # 100 MB of uint16: beyond the page cache's first touch of a small file


def token_stream(root: Path, cfg, vocab: int) -> TokenStream:
    ids = np.random.default_rng(0).integers(5, vocab, SHARD_TOKENS, dtype=np.uint16)
    ids.tofile(root / "train_0.bin")
    index = {"dtype": "uint16", "splits": {"train": {"tokens": SHARD_TOKENS,
                                                      "shards": [{"file": "train_0.bin", "tokens": SHARD_TOKENS}]}}}
    return TokenStream(root, index, "train", *window_length(cfg))


def rate(batches: MicroBatches, workers: int, n: int) -> float:
    """Micro-batches per second over n, after the first (which waits for the workers to start)."""
    it = iter(loader(batches, 0, workers, pin=False))
    next(it)
    start = time.perf_counter()
    for _ in range(n):
        next(it)
    return n / (time.perf_counter() - start)


def collator_rate(stream: TokenStream, cfg, specials: Specials, vocab: int, n: int) -> float:
    """transformers' MLM collator masking the same windows ([CLS] w [SEP]), n batches."""
    from tokenizers import Tokenizer, models
    from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerFast

    words = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, **{f"t{i}": i for i in range(5, vocab)}}
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(words, unk_token="[UNK]")),
                                  pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                  mask_token="[MASK]")
    collate = DataCollatorForLanguageModeling(tok, mlm_probability=cfg.mlm_probability, return_tensors="np")
    per_batch = cfg.batch_size // cfg.grad_accum
    start = time.perf_counter()
    for b in range(n):
        rows = [np.concatenate([[specials.cls], stream.window(b * per_batch + i), [specials.sep]])
                for i in range(per_batch)]
        collate([{"input_ids": r} for r in rows])
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=24, help="micro-batches timed per row")
    ap.add_argument("--workers", type=int, nargs="+", default=None, help="worker counts (default: 0, 1, 2, the profile's)")
    args = ap.parse_args()
    cfg = resolve_config("pretrain", {"profile": "gpu"})
    tok_cfg = resolve_config("tokenizer", {"profile": "gpu"})
    vocab = tok_cfg.vocab_size
    specials = Specials(pad=0, cls=2, sep=3, mask=4, vocab_size=vocab)
    with torch.device("meta"):  # the FLOPs need the shapes only
        flops_per_token = train_flops_per_token(build_model(cfg, vocab, specials), cfg)
    micro_per_step = cfg.grad_accum
    flops_per_step = flops_per_token * cfg.batch_size * cfg.seq_len
    h100_steps_s = TARGET_MFU * H100_BF16_DENSE / flops_per_step
    needed = h100_steps_s * micro_per_step  # micro-batches per second, one GPU
    workers = args.workers or sorted({0, 1, 2, cfg.loader_workers})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        stream = token_stream(Path(tmp), cfg, vocab)
        batches = MicroBatches(Examples(stream, cfg, specials, cfg.seed, shuffle=True), cfg, rank=0, world=1)
        bare = collator_rate(stream, cfg, specials, vocab, max(4, args.batches // 4))
        for w in workers:
            r = rate(batches, w, args.batches)
            rows.append({"workers": w, "micro_batches_per_s": round(r, 2),
                         "per_worker": round(r / max(w, 1), 2), "x_h100_rate": round(r / needed, 2)})
    result = {"cpu": cpu_model(), "cores": torch.get_num_threads(), "profile": "gpu",
              "micro_batch": [cfg.batch_size // cfg.grad_accum, cfg.seq_len], "mlm_probability": cfg.mlm_probability,
              "flops_per_step": flops_per_step, "h100_steps_per_s_at_40pct_mfu": round(h100_steps_s, 3),
              "needed_micro_batches_per_s": round(needed, 3), "goal_x": 2.0,
              "bare_collator_micro_batches_per_s": round(bare, 2), "rows": rows}
    print(f"gpu profile: {cfg.batch_size} x {cfg.seq_len} tokens per step, {flops_per_step:.3g} FLOP; "
          f"an H100 at 40% MFU runs {h100_steps_s:.2f} steps/s = {needed:.2f} micro-batches/s")
    print(f"bare DataCollatorForLanguageModeling, 1 thread: {bare:.2f} micro-batches/s")
    print(f"{'workers':>8} {'mb/s':>8} {'per worker':>11} {'x H100 rate':>12}")
    for r in rows:
        print(f"{r['workers']:>8} {r['micro_batches_per_s']:>8.2f} {r['per_worker']:>11.2f} {r['x_h100_rate']:>12.2f}")
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
