"""Pretraining and tokenizer throughput: our stage code against bare library loops.

    .venv/bin/python bench/pretrain.py [--steps 12] [--profile default]

Trainer: tokens/s and peak RSS of `Trainer.train_step` (data pipeline, loss normalization,
clipping, scheduler included) against a bare PyTorch loop over pre-built batches -- same model,
batch, precision, optimizer -- each in its own subprocess (so peak RSS is its own), run
alternately twice and the best of each kept, because the 2 cores are shared.
MFU: 6N + 12 L d T FLOPs per token against the bf16 matmul rate measured in the same process
(pipeline.pretrain.hardware.measured_peak), and against the datasheet-style peak beside it.
Tokenizer: training time and encoding MB/s of the stage's code against bare `tokenizers`
calls on the same texts (the three Wikipedia lead files, ~11 MB).
Writes bench/results/pretrain.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from pipeline.env import cpu_model  # noqa: E402  (after the sys.path insert)
DATA = Path(os.environ.get("LMPIPE_DATA") or REPO.parent / "shared" / "data")
LEADS = [DATA / "wikipedia" / "leads" / f"{lang}-leads.parquet" for lang in ("en", "es", "fr")]
RESULTS = REPO / "bench" / "results" / "pretrain.json"


# ---------------------------------------------------------------------------- trainer vs bare

def trainer_child(mode: str, root: str, profile: str, steps: int, warmup: int) -> dict:
    """One measurement in this process: `ours` (Trainer.train_step) or `bare` (plain loop)."""
    os.environ["LMPIPE_ROOT"] = root
    import torch
    import torch.nn.functional as F

    from pipeline.config import resolve_path
    from pipeline.pretrain import dist, hardware, inputs
    from pipeline.pretrain.data import Examples, TokenStream, window_length
    from pipeline.pretrain.model import build_model, train_flops_per_token
    from pipeline.pretrain.optim import build_optimizer
    from pipeline.pretrain.trainer import Trainer
    from pipeline.runner import resolve_config

    cfg = resolve_config("pretrain", [f"profile={profile}"], str(REPO / "params.yaml"))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    tok_dir, tokens_dir = resolve_path(cfg.tokenizer), resolve_path(cfg.tokens)
    tok = inputs.load_tokenizer(tok_dir)
    index = inputs.check(cfg, tok, tok_dir, tokens_dir)
    sp = inputs.specials(tok, cfg.objective)
    length, stride = window_length(cfg)
    train = Examples(TokenStream(tokens_dir, index, "train", length, stride), cfg, sp, cfg.seed, True)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, len(tok), sp)
    flops = train_flops_per_token(model, cfg)
    peak, how = hardware.peak_flops(torch.device("cpu"), cfg.precision, 1, 1, cfg.peak_flops)
    d = dist.Dist()
    if mode == "ours":
        trainer = Trainer(cfg, d, model, train, train, Path(root) / "ckpt", flops, peak)

        def step(i):
            trainer.train_step()
            trainer.step += 1
    else:
        opt = build_optimizer(model, cfg)
        batches = [train.batch(list(range(i * cfg.batch_size, (i + 1) * cfg.batch_size)))
                   for i in range(warmup + steps)]

        def step(i):
            b = batches[i]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                if model.config.model_type == "modernbert":  # the library's own sparse MLM loss
                    loss = model(input_ids=b["input_ids"], labels=b["labels"]).loss
                else:
                    out = model(input_ids=b["input_ids"], token_type_ids=b["token_type_ids"])
                    logits = out.logits if hasattr(out, "logits") else out.prediction_logits
                    loss = F.cross_entropy(logits.flatten(0, 1).float(), b["labels"].flatten())
                    if "pair_label" in b:
                        loss = loss + F.cross_entropy(out.seq_relationship_logits.float(), b["pair_label"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
    for i in range(warmup):
        step(i)
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    elapsed = time.perf_counter() - start
    tok_s = steps * cfg.batch_size * cfg.seq_len / elapsed
    measured = hardware.measured_peak(cfg.precision)  # in this process, right after the run's steps
    return {"tokens_per_s": tok_s, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "mfu": tok_s * flops / measured, "mfu_datasheet": tok_s * flops / peak,
            "peak_flops_measured": measured, "peak_flops": peak, "peak_flops_source": how,
            "flops_per_token": flops, "model": type(model).__name__,
            "params": sum(p.numel() for p in model.parameters()), "batch": cfg.batch_size,
            "seq_len": cfg.seq_len, "precision": cfg.precision, "threads": torch.get_num_threads()}


def bench_trainer(root: Path, profile: str, steps: int, rounds: int) -> dict:
    best: dict[str, dict] = {}
    for _ in range(rounds):
        for mode in ("ours", "bare"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--root", str(root),
                                  "--profile", profile, "--steps", str(steps)],
                                 capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {mode}: {result['tokens_per_s']:.0f} tok/s, {result['peak_rss_mb']:.0f} MB", flush=True)
            if result["tokens_per_s"] > best.get(mode, {}).get("tokens_per_s", 0):
                best[mode] = result
    return best


# ---------------------------------------------------------------------------- tokenizer

def bench_tokenizer(root: Path) -> dict:
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    from pipeline.runner import resolve_config
    from pipeline.tokenizer import corpus, encode, train

    os.environ["LMPIPE_ROOT"] = str(root)
    cfg = resolve_config("tokenizer", [], str(REPO / "params.yaml"))
    shards = corpus.find_shards(root / "data" / "curated", cfg.input_glob)
    texts = [t for s in shards for t in pq.read_table(s, columns=["text"]).column("text").to_pylist()]
    mb = sum(len(t.encode()) for t in texts) / 1e6

    t = time.perf_counter()
    ours_tok = train.train(cfg, corpus.capped(corpus.iter_train(shards, cfg.val_fraction), cfg.train_max_chars))
    ours_train = time.perf_counter() - t
    t = time.perf_counter()
    bare_tok, trainer = train.build_tokenizer(cfg)  # the same model/trainer objects, fed a list
    train_texts = [t for ids, batch in corpus.iter_batches(shards) for i, t in zip(ids, batch)
                   if not corpus.is_validation(i, cfg.val_fraction)]
    bare_tok.train_from_iterator(train_texts, trainer=trainer)
    bare_train = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as out:
        writers = {s: encode.SplitWriter(Path(out), s, encode.token_dtype(cfg.vocab_size), cfg.shard_tokens)
                   for s in ("train", "val")}
        t = time.perf_counter()
        encode.encode_corpus(ours_tok, corpus.iter_marked(shards, cfg.val_fraction), writers,
                             ours_tok.token_to_id("[SEP]"), len(texts))
        ours_enc = time.perf_counter() - t
    bare = Tokenizer.from_str(ours_tok.to_str())
    t = time.perf_counter()
    with encode.rust_parallelism():
        for i in range(0, len(texts), corpus.READ_BATCH):
            [e.ids for e in bare.encode_batch(texts[i:i + corpus.READ_BATCH], add_special_tokens=False)]
    bare_enc = time.perf_counter() - t
    return {"corpus_mb": round(mb, 2), "docs": len(texts), "algorithm": cfg.algorithm, "vocab_size": cfg.vocab_size,
            "train_s_ours": round(ours_train, 2), "train_s_bare": round(bare_train, 2),
            "train_ratio": round(bare_train / ours_train, 3),
            "encode_mb_s_ours": round(mb / ours_enc, 2), "encode_mb_s_bare": round(mb / bare_enc, 2),
            "encode_ratio": round(bare_enc / ours_enc, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", choices=["ours", "bare"])
    ap.add_argument("--root")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(trainer_child(args.child, args.root, args.profile, args.steps, warmup=3)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        docs = root / "data" / "curated" / "docs"
        docs.mkdir(parents=True)
        for f in LEADS:
            (docs / f.name).symlink_to(f)
        print("tokenizer: ours vs bare tokenizers", flush=True)
        tokr = bench_tokenizer(root)
        from pipeline.runner import run_stage

        run_stage("tokenizer", [f"profile={args.profile}"], str(REPO / "params.yaml"))
        print(f"trainer ({args.profile} profile): ours vs bare PyTorch loop", flush=True)
        best = bench_trainer(root, args.profile, args.steps, args.rounds)
    ours, bare = best["ours"], best["bare"]
    result = {
        "cpu": cpu_model(), "gpu": "none lent to this task", "profile": args.profile,
        "trainer": {"ours": ours, "bare": bare,
                    "tokens_per_s_ratio": round(ours["tokens_per_s"] / bare["tokens_per_s"], 3),
                    "peak_rss_ratio": round(ours["peak_rss_mb"] / bare["peak_rss_mb"], 3)},
        "tokenizer": tokr,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    rows = [("trainer tokens/s", ours["tokens_per_s"], bare["tokens_per_s"], result["trainer"]["tokens_per_s_ratio"]),
            ("trainer peak RSS MB", ours["peak_rss_mb"], bare["peak_rss_mb"], result["trainer"]["peak_rss_ratio"]),
            ("trainer MFU % (measured matmul peak)", 100 * ours["mfu"], 100 * bare["mfu"], None),
            ("trainer MFU % (datasheet peak)", 100 * ours["mfu_datasheet"], 100 * bare["mfu_datasheet"], None),
            ("tokenizer train s", tokr["train_s_ours"], tokr["train_s_bare"], tokr["train_ratio"]),
            ("encode MB/s", tokr["encode_mb_s_ours"], tokr["encode_mb_s_bare"], tokr["encode_ratio"])]
    print(f"\n| metric | ours | bare | ratio |\n|---|---|---|---|")
    for name, a, b, r in rows:
        print(f"| {name} | {a:.2f} | {b:.2f} | {'' if r is None else f'{r:.3f}'} |")
    print(f"peak: measured {ours['peak_flops_measured']:.3g} FLOP/s (matmul probe); datasheet "
          f"{ours['peak_flops']:.3g} FLOP/s = {ours['peak_flops_source']}; -> {RESULTS}")


if __name__ == "__main__":
    main()
