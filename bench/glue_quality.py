"""GLUE dev quality of the pretrained models against the no-pretraining floor, MiniLM and TF-IDF.

Fine-tunes every model with the same budget (the default profile's `finetune.train`, or the
flags below, and its per-task `finetune.task_train` keys, e.g. STS-B bi-encoded) on CoLA,
SST-2, MRPC, STS-B, RTE and WNLI through the finetune stage's own code, and records each
model's dev scores and wall time. Goal (issue 5): the cpu-1h model beats the floor on the
six-task average by >= 5 points. The `classical` row (TF-IDF + linear models,
pipeline/finetune/classical.py, settings from params `finetune.classical`) is the bar below
which a language model has learnt nothing a bag of n-grams does not know; it trains on the same
examples and takes seconds.

    .venv/bin/python bench/glue_quality.py [--default data/model] [--cpu1h DIR] [--model NAME=DIR]
                                           [--max-train N] [--train KEY=VALUE] [--tasks a,b]
                                           [--no-floor] [--no-minilm] [--no-classical] [--merge]

The classical row alone: --default '' --no-floor --no-minilm; on the full train sets add
--train max_train_examples=null.

With several seeds (`--train 'seeds=[0,1,2]'`) each model's GLUE score per seed and the paired
cpu-1h - floor gap per seed are recorded too. Models and the floor are chosen as
bench/checkpoints.py says; --merge keeps the rows of models not run now from the existing
results, if they had the same budget. Prints a markdown table and writes
bench/results/glue_quality.json (after every model, so a long run that is stopped keeps what it
finished).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import time
from pathlib import Path

import torch

import checkpoints  # bench/checkpoints.py
from pipeline.config import build, load_params, parse_overrides, stage_config
from pipeline.finetune import Config, run
from pipeline.finetune import metrics as glue_metrics
from pipeline.finetune.report_card import DISPLAY

REPO = Path(__file__).resolve().parent.parent
TASKS = ["cola", "sst2", "mrpc", "stsb", "rte", "wnli"]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    checkpoints.add_arguments(p)
    p.add_argument("--max-train", type=int, default=None, help="override train.max_train_examples")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    p.add_argument("--train", action="append", default=[], metavar="KEY=VALUE",
                   help="override any finetune.train key, e.g. lr=3e-4 (YAML value; repeatable)")
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset, for exploring a budget")
    p.add_argument("--no-classical", action="store_true", help="skip the TF-IDF + linear-model baseline")
    p.add_argument("--merge", action="store_true",
                   help="keep the other models' rows of an existing --out measured with the same budget")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "glue_quality.json"))
    return p.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    params = load_params(REPO / "params.yaml", {"profile": "default"})
    base = stage_config("finetune", Config, params)
    models, skipped = checkpoints.models(args, base.model)
    if not args.no_classical:
        models.insert(0, {"name": "classical", "checkpoint": "classical"})
    classical = dataclasses.asdict(base.classical)
    train = {**vars(base.train), **({"max_train_examples": args.max_train} if args.max_train else {}),
             **({"epochs": args.epochs} if args.epochs else {}),
             **parse_overrides(args.train)}  # parsed as `--set` values are
    tasks = args.tasks.split(",")
    task_train = {t: keys for t, keys in base.task_train.items() if t in tasks}  # params' per-task keys (STS-B: bi)
    out = REPO / "bench" / "out" / "glue_quality"
    rows = {}  # model name -> its row of the report
    if args.merge and Path(args.out).exists():
        kept = json.loads(Path(args.out).read_text())
        if (kept["train"] != train or kept["tasks"] != tasks or kept.get("classical", classical) != classical
                or kept.get("task_train", {}) != task_train):
            raise SystemExit(f"--merge: {args.out} was measured with another budget or task list")
        running = {m["name"] for m in models}
        rows = {name: row for name, row in kept["models"].items() if name not in running}
    for spec in models:  # one stage run per model: its wall time is the model's own
        cfg = build(Config, {"data_root": base.data_root, "glue": base.glue, "model": base.model,
                             "finetune": str(out / spec["name"]), "tasks": tasks, "models": [spec],
                             "train": train, "task_train": task_train, "classical": classical,
                             "write_submission": False,
                             "glue_metrics": str(out / spec["name"] / "glue.json"),
                             "plot": str(out / spec["name"] / "glue.csv")}, prefix="finetune")
        start = time.perf_counter()
        run(cfg)
        seconds = round(time.perf_counter() - start, 1)
        r = json.loads((out / spec["name"] / "glue.json").read_text())["models"][spec["name"]]
        rows[spec["name"]] = {"checkpoint": r["checkpoint"], "init": r["init"], "glue_score": r["glue_score"],
                              "wall_time_s": seconds, "tasks": {t: r["tasks"][t]["metrics"] for t in tasks}}
        if len(train["seeds"]) > 1:  # the GLUE score of each seed, and the tasks' spread
            rows[spec["name"]]["glue_score_per_seed"] = [
                glue_metrics.glue_score({t: glue_metrics.task_score(r["tasks"][t]["per_seed"][i]) for t in tasks})
                for i in range(len(train["seeds"]))]
            rows[spec["name"]]["std"] = {t: r["tasks"][t]["std"] for t in tasks}
        save(summarize(rows, train, tasks, skipped, classical, task_train), Path(args.out))  # after every model
    print(table(summarize(rows, train, tasks, skipped, classical, task_train)))


def save(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def summarize(rows: dict, train: dict, tasks: list[str], skipped: list[str], classical: dict,
              task_train: dict) -> dict:
    rank = {"classical": -1, "floor": 0, "default": 1, "cpu-1h": 2, "minilm": 4}
    report = {"tasks": tasks, "split": "dev", "train": train, "task_train": task_train,
              "skipped": [k for k in skipped if k not in rows],
              "machine": f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
              "models": dict(sorted(rows.items(), key=lambda kv: rank.get(kv[0], 3)))}
    if "classical" in rows:  # its settings are part of its budget
        report["classical"] = classical
    if "floor" in rows and "cpu-1h" in rows:
        report["cpu1h_minus_floor"] = round(rows["cpu-1h"]["glue_score"] - rows["floor"]["glue_score"], 2)
        pairs = list(zip(rows["cpu-1h"].get("glue_score_per_seed", []), rows["floor"].get("glue_score_per_seed", [])))
        if len(pairs) > 1:  # same seed = same held-out slice and train order for both models
            gaps = [a - b for a, b in pairs]
            report["cpu1h_minus_floor_per_seed"] = [round(g, 2) for g in gaps]
            report["cpu1h_minus_floor_std"] = round(statistics.stdev(gaps), 2)
    return report


def table(report: dict) -> str:
    head = ["model", f"{len(report['tasks'])}-task avg"] + [DISPLAY[t] for t in report["tasks"]] + ["wall time"]
    rows = [head, ["---"] * len(head)]
    for name, r in report["models"].items():
        cells = ["/".join(f"{v:.1f}" for v in r["tasks"][t].values()) for t in report["tasks"]]
        rows.append([name, f"{r['glue_score']:.1f}", *cells, f"{r['wall_time_s']:.0f} s"])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


if __name__ == "__main__":
    main()
