"""The four applications with every row: the params.yaml rows (pipeline, floor, baselines) plus the
off-the-shelf MiniLM for the encoder tasks, on the default slice or the `full` setting.

    python bench/applications.py [--setting slice|full] [--model DIR] [--apps ner qa ...]

Each application runs through its stage's own `run` with params.yaml's section (and the active
profile), writing under data/bench/applications/ so the DVC-tracked outputs stay as they are.
Prints one table per application and writes bench/results/applications_<setting>[_<model>].json
with every row's metrics and wall time, and the whole stage's wall time.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from pipeline import stages
from pipeline.runner import resolve_config
from pipeline.stages import APPLICATIONS

RESULTS = Path(__file__).parent / "results"
OFF_THE_SHELF = {"ner", "qa"}  # MiniLM is an encoder: no generator to warm-start for seq2seq here
# MiniLM's own rate (a row's `lr`): the stages' train.lr suits the 5M-parameter pipeline model
# (ner 2e-3, qa 3e-4); BERT-size models are fine-tuned at ~2e-5..1e-4 (Devlin et al. 2019; Turc
# et al. 2019). MiniLM on ner, measured on 2 CPU cores: the full setting (878 steps) at 2e-3
# collapsed to tagging everything O (F1 0.0, results/applications_full.json); 2,000 training
# sentences (125 steps), seed 0: F1 53.8 at 1e-4, 26.4 at 2e-3. The default slice's 32 steps
# are too few for 1e-4 (seeds 0/1/2: F1 3.6/13.4/11.7, at 2e-3 12.3/12.2/27.8): slice rows show
# the stage working, `full` compares models.
MINILM_LR = 1e-4


def run_app(app: str, setting: str, model: str | None) -> dict:
    tag = f"{setting}" + (f"-{Path(model).name}" if model else "")
    overrides = {app: {"setting": setting, "plot": f"data/bench/applications/{app}-{tag}.csv"},
                 "paths": {app: f"data/bench/applications/{app}-{tag}", **({"model": model} if model else {})}}
    cfg = resolve_config(app, overrides)
    if app in OFF_THE_SHELF and all(r.checkpoint != "minilm" for r in cfg.models):
        row_type = type(cfg.models[0])
        cfg.models.append(row_type("minilm", checkpoint="minilm", lr=MINILM_LR))
    start = time.perf_counter()
    metrics = stages.load(app).run(cfg)
    return {"wall_time_s": round(time.perf_counter() - start, 1), "setting": setting,
            "model": model or "data/model", **{k: metrics[k] for k in ("primary", "metrics", "score", "models")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", choices=["slice", "full"], default="slice")
    parser.add_argument("--model", default=None, help="the pipeline checkpoint (default: paths.model)")
    parser.add_argument("--apps", nargs="+", choices=APPLICATIONS, default=list(APPLICATIONS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    name = f"applications_{args.setting}" + (f"_{Path(args.model).name}" if args.model else "")
    out = RESULTS / f"{name}.json"
    results = json.loads(out.read_text()) if out.exists() else {}  # one app at a time adds up
    for app in args.apps:
        results[app] = run_app(app, args.setting, args.model)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    for app, r in results.items():
        print(f"\n{app} ({r['setting']}, {r['wall_time_s']:.0f} s)")
        print(f"| model | kind | {' | '.join(r['metrics'])} | train examples | time |")
        print("|---|---|" + "---:|" * (len(r["metrics"]) + 2))
        for row, m in r["models"].items():
            cells = " | ".join(f"{m['metrics'].get(k, float('nan')):.1f}" for k in r["metrics"])
            print(f"| {row} | {m['kind']} | {cells} | {m['train_examples']:,} | {m['time_s']:.0f} s |")
    print(f"\n-> {out}")


if __name__ == "__main__":
    main()
