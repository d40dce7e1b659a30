"""Pretraining objectives at equal wall time: ModernBERT MLM at 15% and 40% masking, ELECTRA.

    .venv/bin/python bench/objectives.py [--minutes 6] [--threads 1] [--sequential]

Corpus: the English Wikipedia leads (10,033 docs, 4.9 M chars) through the tokenizer stage on
the default profile (byte-level BPE, 8,192 tokens). Each objective runs the pretrain stage on
the default profile's model size and schedule (lr 1e-3, cosine) with half its batch and
warm-up (16 x 128 tokens, 20 steps): ModernBERT 4 x 256 for MLM; for ELECTRA a discriminator of the same width and
depth (transformers' Electra: post-LN BERT blocks, learned positions) with a 4 x 64 generator.
Equal wall time: each run first measures its step time (8 steps), then trains for as many steps
as fit in the budget, so its cosine schedule ends at the budget. By default the three runs go
at the same time, one thread each, so that whatever else loads the machine loads all three
alike (`--sequential`: one after the other, `--threads` each).
Transfer probe (bench/feature_probe.py's): frozen mean-pooled features of the exported encoder
-> logistic regression on the SST-2 fine-tuning slice (1,000 train examples, seed 0), dev
accuracy (872 examples: one standard error is ~1.7 points), for the embedding layer and the last
layer; the two architectures randomly initialised as floors. Load averages (os.getloadavg) are sampled throughout.
Writes bench/results/objectives.json.

First run (8 minutes each, concurrent, load average 8-10 from other jobs; 13 min in all): only
145-173 steps (0.3-0.35 M tokens) each, so every model was still on the unigram plateau (MLM
~6.9 nats; ELECTRA's discriminator at the base rate: BCE 0.41, accuracy 0.857 = "all
original") and no probe beat its floor. What it does measure: the 40% masking rate costs 15% of
the tokens/s (the sparse MLM head runs on 40% of the tokens) and ELECTRA 13%.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
DATA = Path(os.environ.get("LMPIPE_DATA") or REPO.parent / "shared" / "data")
LEADS = DATA / "wikipedia" / "leads" / "en-leads.parquet"
RESULTS = REPO / "bench" / "results" / "objectives.json"
PARAMS = str(REPO / "params.yaml")

ELECTRA = ["pretrain.objective=electra", "pretrain.arch.family=electra"]
RUNS = {  # name -> --set overrides over the default profile
    "modernbert-mlm15": [],
    "modernbert-mlm40": ["pretrain.mlm_probability=0.4"],
    "electra": ELECTRA,
}
# Half the default batch (16 x 128) and warm-up (20 steps): on a shared machine a few minutes
# buy a few hundred steps, and ModernBERT needs ~100 to leave the unigram plateau (README).
# Only the end of each run is evaluated and checkpointed: neither counts as training time.
SHARED = ["pretrain.batch_size=16", "pretrain.warmup_steps=20", "pretrain.eval_every=100000",
          "pretrain.checkpoint_every=100000", "pretrain.log_every=20", "pretrain.resume=false"]
CALIBRATION_STEPS = 8


def log_load(tag: str, loads: list) -> None:
    loads.append({"t": round(time.time(), 1), "tag": tag, "loadavg": [round(x, 2) for x in os.getloadavg()]})


# ---------------------------------------------------------------------------- one run (child)

def run_child(name: str, root: Path, budget_s: float, threads: int) -> dict:
    """Calibrate, then pretrain for the budget; the stage's metrics."""
    from pipeline.runner import run_stage

    project = root / name
    project.mkdir(parents=True, exist_ok=True)
    os.environ["LMPIPE_ROOT"] = str(project)
    base = ["profile=default", f"paths.tokenizer={root / 'data' / 'tokenizer'}",
            f"paths.tokens={root / 'data' / 'tokens'}", f"pretrain.threads={threads}", *SHARED, *RUNS[name]]
    probe = run_stage("pretrain", [*base, f"pretrain.max_steps={CALIBRATION_STEPS}", "pretrain.warmup_steps=2",
                                   f"paths.model={project / 'calibration'}"], PARAMS)
    step_s = probe["train_seconds"] / CALIBRATION_STEPS
    steps = max(60, int(budget_s / step_s))
    print(f"{name}: {step_s:.2f} s/step -> {steps} steps", file=sys.stderr, flush=True)
    start = time.perf_counter()
    metrics = run_stage("pretrain", [*base, f"pretrain.max_steps={steps}", f"paths.model={project / 'model'}"], PARAMS)
    curve = (project / "plots" / "pretrain_loss.tsv").read_text().splitlines()[1:]
    return {**metrics, "stage_wall_s": round(time.perf_counter() - start, 1), "calibration_s_per_step": round(step_s, 3),
            "model_dir": str(project / "model"),
            "loss_curve": [[int(s), round(float(loss), 4)] for s, loss, *_ in (row.split("\t") for row in curve[::20])]}


# ---------------------------------------------------------------------------- probe

def load_probe_data() -> tuple[tuple, int]:
    """SST-2 (the fine-tuning budget's train slice: 1,000 examples, seed 0; dev), as feature_probe.py."""
    from pipeline.config import load_params, stage_config
    from pipeline.finetune import Config
    from pipeline.finetune.loaders import load_task
    from pipeline.glue import TASKS
    from pipeline.finetune.train import split_heldout
    from pipeline.sources import data_root_path

    base = stage_config("finetune", Config, load_params(PARAMS, {"profile": "default"}))
    hp = base.hparams["sst2"]
    splits = load_task(TASKS["sst2"], data_root_path(base.data_root) / base.glue, base.source, ("train", "dev"))
    train, _ = split_heldout(splits["train"], hp, seed=hp.seeds[0])
    return (train, splits["dev"]), hp.max_length


def probe_models(models: dict[str, tuple[str, str]], data: tuple, max_length: int) -> dict:
    """name -> (checkpoint dir, 'pretrained' | 'random') -> SST-2 dev accuracy of a logistic
    regression on feature_probe.py's frozen mean-pooled features, per layer (embeddings, last)."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoConfig, AutoModel

    from feature_probe import LAYERS, features  # bench/feature_probe.py
    from pipeline.finetune.models import load_tokenizer

    train, dev = data
    out = {}
    for name, (path, init) in models.items():
        torch.manual_seed(0)
        model = (AutoModel.from_config(AutoConfig.from_pretrained(path)) if init == "random"
                 else AutoModel.from_pretrained(path)).float().eval()
        tok = load_tokenizer(Path(path))
        x_train, x_dev = (features(model, tok, d["text_a"], max_length) for d in (train, dev))
        out[name] = {}
        for layer in LAYERS:
            clf = LogisticRegression(max_iter=5000).fit(x_train[layer], train["label"])
            out[name][layer] = round(100 * float((clf.predict(x_dev[layer]) == np.asarray(dev["label"])).mean()), 2)
        print(f"probe {name}: {out[name]}", flush=True)
    return out


# ---------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=6.0, help="training budget per objective")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--sequential", action="store_true", help="one run after the other instead of all at once")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--child", choices=list(RUNS))
    ap.add_argument("--root")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, Path(args.root), 60 * args.minutes, args.threads)))
        return

    import torch
    from pipeline.env import cpu_model
    from pipeline.runner import run_stage

    loads: list = []
    log_load("start", loads)
    probe_data = load_probe_data()  # before LMPIPE_ROOT moves: data_root is relative to the repo
    bench_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        docs = root / "data" / "curated" / "docs"
        docs.mkdir(parents=True)
        (docs / LEADS.name).symlink_to(LEADS)
        os.environ["LMPIPE_ROOT"] = str(root)
        tok = run_stage("tokenizer", ["profile=default"], PARAMS)
        log_load("tokenized", loads)

        cmd = [sys.executable, __file__, "--root", str(root), "--minutes", str(args.minutes),
               "--threads", str(args.threads)]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        procs, results = {}, {}
        for name in RUNS:
            procs[name] = subprocess.Popen([*cmd, "--child", name], stdout=subprocess.PIPE, text=True, env=env)
            if args.sequential:
                results[name] = json.loads(procs[name].communicate()[0].strip().splitlines()[-1])
                log_load(f"{name} done", loads)
        while any(p.poll() is None for p in procs.values()):
            time.sleep(20)
            log_load("training", loads)
        for name, p in procs.items():
            if name not in results:
                out, _ = p.communicate()
                if p.returncode:
                    raise SystemExit(f"{name}: exit {p.returncode}")
                results[name] = json.loads(out.strip().splitlines()[-1])
        log_load("trained", loads)

        models = {"floor-modernbert": (results["modernbert-mlm15"]["model_dir"], "random"),
                  "floor-electra": (results["electra"]["model_dir"], "random"),
                  **{name: (r["model_dir"], "pretrained") for name, r in results.items()}}
        probes = probe_models(models, *probe_data)
        log_load("probed", loads)

    keep = ("model_class", "params", "exported_params", "steps", "tokens_seen", "epochs", "train_seconds",
            "stage_wall_s", "tokens_per_s", "mfu", "flops_per_token", "final_loss", "final_loss_avg", "val_loss",
            "val_ppl", "val_gen_loss", "val_disc_loss", "val_disc_acc", "calibration_s_per_step", "loss_curve")
    report = {
        "cpu": cpu_model(), "torch_threads_per_run": args.threads, "concurrent": not args.sequential,
        "budget_minutes": args.minutes, "corpus": {"file": str(LEADS), "train_tokens": tok.get("train_tokens"),
                                                   "tokenizer": {k: tok.get(k) for k in ("algorithm", "vocab_size")}},
        "runs": {name: {k: r[k] for k in keep if k in r} for name, r in results.items()},
        "probe": probes, "loadavg": loads, "bench_wall_s": round(time.perf_counter() - bench_start, 1),
        "torch": torch.__version__,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")

    print("\n| objective | steps | train s | tokens/s | MFU | final train loss | val loss | "
          "SST-2 probe acc (emb / last) |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in models:
        r, p = results.get(name, {}), probes[name]
        cells = ([f"{r['steps']}", f"{r['train_seconds']:.0f}", f"{r['tokens_per_s']:.0f}", f"{100 * r['mfu']:.2f}%",
                  f"{r['final_loss_avg']:.3f}", f"{r['val_loss']:.3f}"] if r else ["", "", "", "", "", ""])
        print(f"| {name} | " + " | ".join(cells) + f" | {p['embeddings']:.1f} / {p['last']:.1f} |")
    e = results["electra"]
    print(f"electra held-out: generator MLM {e['val_gen_loss']:.3f}, discriminator BCE {e['val_disc_loss']:.3f}, "
          f"accuracy {e['val_disc_acc']:.3f}")
    print(f"load averages: {[l['loadavg'][0] for l in loads]}; -> {out}")


if __name__ == "__main__":
    main()
