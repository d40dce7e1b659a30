"""finetune: fine-tune checkpoints on GLUE tasks and score them with the official metrics.

Files: loaders.py (TSV / parquet / save_to_disk / hub, layout checks; the tasks' columns are in
pipeline/glue.py), models.py (checkpoints, random-init floor), train.py (Trainer, model selection),
classical.py (TF-IDF + linear-model baseline, `checkpoint: classical`), metrics.py (official
metrics, GLUE score), submission.py (prediction TSVs), report_card.py.

Outputs under paths.finetune: <model>/submission/<Task>.tsv (GLUE server format, test sets),
<model>/predictions/<task>_<split>.tsv (dev), glue.md (report card), config.yaml,
models/<model>/<task>/ (the `save_models` classifiers, save_pretrained + tokenizer, with their own
dev predictions <task>_<split>.tsv); and
metrics/glue.json (per model per task) and plots/glue.csv (bar plot).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from pipeline import cards
from pipeline.artifacts import (TIMING, atomic_dir, fingerprint, portable, reusable, save_config, save_result,
                                times_of, weights_stamp, write_json, write_text_atomic)
from pipeline.config import build
from pipeline.finetune import metrics as glue_metrics
from pipeline.finetune import report_card
from pipeline.finetune.classical import ClassicalConfig
from pipeline.finetune.classical import fit as fit_classical
from pipeline.finetune.loaders import load_task
from pipeline.finetune.models import ModelSpec, resolve_checkpoint
from pipeline.finetune.submission import write_dev_predictions, write_submission
from pipeline.glue import GLUE_TASKS, TASKS, Task
from pipeline.finetune.train import HParams, finetune, uses_biencoder
from pipeline.sources import data_root_path

log = logging.getLogger(__name__)

SAVED_MODELS = "models"  # the directory of the kept classifiers, beside the per-model ones


@dataclass
class Config:
    data_root: str = "../shared/data"
    glue: str = "glue"                       # GLUE data under data_root (or a hub-schema copy)
    model: str = "data/model"                # the pipeline's checkpoint (alias `pipeline`)
    finetune: str = "data/finetune"          # output directory
    source: Literal["auto", "tsv", "parquet", "disk", "hub"] = "auto"
    tasks: list[str] = field(default_factory=lambda: ["cola", "sst2", "mrpc", "stsb", "rte", "wnli"])
    models: list[ModelSpec] = field(default_factory=lambda: [ModelSpec("pipeline")])
    train: HParams = field(default_factory=HParams)
    task_train: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> HParams keys
    classical: ClassicalConfig = field(default_factory=ClassicalConfig)  # the `classical` model's
    write_submission: bool = True            # predict the test sets in GLUE submission format
    # Tasks whose classifier is kept (first seed, every model but classical) for the report to
    # explain (pipeline/report/interpret.py): saved_model_path(finetune, model, task).
    save_models: list[str] = field(default_factory=list)
    threads: int = 0                         # torch intra-op threads; 0 = torch's default
    glue_metrics: str = "metrics/glue.json"
    plot: str = "plots/glue.csv"

    def __post_init__(self):
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"tasks: unknown task {unknown[0]!r} (known: {', '.join(TASKS)})")
        if not self.tasks:
            raise ValueError("tasks: empty")
        if "ax" in self.tasks and "mnli" not in self.tasks:
            raise ValueError("tasks: 'ax' is scored by the MNLI model; add 'mnli'")
        if self.threads < 0:
            raise ValueError(f"threads: {self.threads} < 0")
        if not self.models or len({m.name for m in self.models}) != len(self.models):
            raise ValueError("models: needs at least one model, names unique")
        for task in self.task_train:  # a task not selected now keeps its settings for when it is
            if task not in TASKS:
                raise ValueError(f"task_train.{task}: unknown task (known: {', '.join(TASKS)})")
        for task in self.save_models:
            if task not in self.tasks:
                raise ValueError(f"save_models: {task!r} not in tasks")
        if self.save_models and any(m.name == SAVED_MODELS for m in self.models):
            raise ValueError(f"models: the name {SAVED_MODELS!r} is the saved classifiers' directory")
        checked = {t: self._hparams(t) for t in [*self.tasks, *self.task_train]}  # ill-typed: an error either way
        self.hparams = {t: checked[t] for t in self.tasks}
        for task in self.save_models:  # the report explains save_pretrained classifiers
            if uses_biencoder(TASKS[task], self.hparams[task]):
                raise ValueError(f"save_models: {task!r} uses pair_encoding 'bi', which the report cannot explain")

    def _hparams(self, task: str) -> HParams:
        merged = {**dataclasses.asdict(self.train), **self.task_train.get(task, {})}
        return build(HParams, merged, prefix=f"finetune.task_train.{task}")

    @property
    def glue_tasks(self) -> list[str]:
        return [t for t in self.tasks if t in GLUE_TASKS]


def saved_model_path(finetune_dir: str | Path, model: str, task: str) -> Path:
    """Where `save_models` keeps the classifier of (model name, task)."""
    return Path(finetune_dir) / SAVED_MODELS / model / task


def _splits(task: Task, cfg: Config) -> tuple[str, ...]:
    return ((task.train,) if task.train else ()) + task.dev + (task.test if cfg.write_submission else ())


def _fingerprint(spec: ModelSpec, checkpoint: Path | None, hp: HParams, cfg: Config) -> str:
    """Identifies a finished (model, task) result kept in the partial dir for resuming."""
    # classical: its settings stand in for the weights
    stamp = dataclasses.asdict(cfg.classical) if checkpoint is None else weights_stamp(checkpoint)
    return fingerprint(dataclasses.asdict(spec), portable(checkpoint), stamp, dataclasses.asdict(hp))


def _mean_std(per_seed: list[dict[str, float]]) -> tuple[dict, dict | None]:
    keys = per_seed[0]
    means = {k: round(statistics.mean(m[k] for m in per_seed), 2) for k in keys}
    stds = {k: round(statistics.stdev(m[k] for m in per_seed), 2) for k in keys} if len(per_seed) > 1 else None
    return means, stds


def _dev_metrics(task: Task, data: dict, predictions: dict) -> dict[str, float]:
    out = {}
    for split in task.dev:
        scores = glue_metrics.compute(task.metrics, data[split]["label"], predictions[split])
        suffix = "" if len(task.dev) == 1 else "_" + split.removeprefix("dev_")
        out.update({f"{k}{suffix}": v for k, v in scores.items()})
    return out


def _run_task(task: Task, data: dict, spec: ModelSpec, checkpoint: Path | None, hp: HParams,
              model_dir: Path, cfg: Config, extra_test: dict, save_to: Path | None = None) -> dict:
    """All seeds of one (model, task); the seed best on held-out writes the predictions. The
    first seed's classifier is saved to `save_to` (with its own dev predictions): the same seed
    whatever `seeds` lists, so the model the report explains does not change with it."""
    start = time.perf_counter()
    data = {**data, **extra_test}
    tests = (task.test + tuple(extra_test)) if cfg.write_submission else ()
    if spec.is_classical:
        runs = [fit_classical(task, data, cfg.classical, hp, seed, task.dev + tests) for seed in hp.seeds]
    else:
        runs = [finetune(task, data, checkpoint, spec.init, hp, seed, model_dir / "_work" / f"{task.name}-{seed}",
                         task.dev + tests, save_to if i == 0 else None) for i, seed in enumerate(hp.seeds)]
        for split in task.dev if save_to else ():
            write_dev_predictions(task, split, data[split], runs[0].predictions[split], save_to)
    per_seed = [_dev_metrics(task, data, r.predictions) for r in runs]
    if save_to and not spec.is_classical:
        card = cards.checkpoint_card(
            f"lmpipe {spec.name} fine-tuned on GLUE {task.dir}",
            [f"Fine-tuned from `{spec.checkpoint}` ({spec.init}) with seed {hp.seeds[0]}: {runs[0].epochs_run} epochs "
             f"over {runs[0].train_examples:,} training examples. Dev metrics: "
             + ", ".join(f"{k} {v}" for k, v in per_seed[0].items()) + "."],
            "text-classification", cards.task_results(task.name, per_seed[0]), f"lmpipe-{spec.name}-{task.name}")
        card.save(save_to / "README.md")
    means, stds = _mean_std(per_seed)
    best = max(runs, key=lambda r: r.heldout_score)
    for split in task.dev:
        write_dev_predictions(task, split, data[split], best.predictions[split], model_dir / "predictions")
    for split in tests:
        owner = TASKS["ax"] if split in extra_test else task
        write_submission(owner, split, data[split], best.predictions[split], model_dir / "submission")
    result = {"metrics": means, "score": glue_metrics.task_score(means), "seeds": hp.seeds,
              "heldout_score": [r.heldout_score for r in runs], "epochs_run": [r.epochs_run for r in runs],
              "train_examples": runs[0].train_examples, "time_s": round(time.perf_counter() - start, 1),
              "flops": sum(r.flops for r in runs)}
    if stds:
        result["std"] = stds
        result["per_seed"] = per_seed  # in seed order: a GLUE score per seed, paired across models
    return result


def run(cfg: Config) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    root = data_root_path(cfg.data_root) / cfg.glue
    # Every task's layout and every checkpoint is checked before the first training step.
    data = {t: load_task(TASKS[t], root, cfg.source, _splits(TASKS[t], cfg)) for t in cfg.tasks}
    checkpoints = {m.name: resolve_checkpoint(m.checkpoint, cfg.model) for m in cfg.models}
    ax_test = data.pop("ax", {})  # test-only; empty unless write_submission
    models: dict[str, dict] = {}
    flops = 0.0  # of the tasks this run trained (a reused result cost nothing now)
    with atomic_dir(cfg.finetune) as out:
        for spec in cfg.models:
            model_start = time.perf_counter()
            tasks = {}
            timing = out / spec.name / TIMING
            times = json.loads(timing.read_text()) if timing.exists() else {}
            for name in cfg.glue_tasks:
                task, hp = TASKS[name], cfg.hparams[name]
                done = out / spec.name / f"{name}.json"
                key = _fingerprint(spec, checkpoints[spec.name], hp, cfg)
                save_to = (saved_model_path(out, spec.name, name)
                           if name in cfg.save_models and not spec.is_classical else None)
                saved = reusable(done, key)
                if saved is not None and (save_to is None or save_to.exists()):
                    log.info("%s/%s: reusing the result of an interrupted run", spec.name, name)
                    tasks[name] = {**saved, **times.get(name, {})}
                    continue
                log.info("fine-tuning %s on %s (%d train examples)", spec.name, name, len(data[name]["train"]))
                extra = ax_test if name == "mnli" else {}
                tasks[name] = _run_task(task, data[name], spec, checkpoints[spec.name], hp,
                                        out / spec.name, cfg, extra, save_to)
                # the cached result holds what its inputs determine; its wall time goes beside it,
                # in a file DVC ignores (.dvcignore), and to the metrics
                save_result(done, key, tasks[name])
                times[name] = times_of(tasks[name])
                write_json(out / spec.name / TIMING, times)
                flops += tasks[name]["flops"]
            shutil.rmtree(out / spec.name / "_work", ignore_errors=True)
            models[spec.name] = {
                "checkpoint": portable(checkpoints[spec.name]) or spec.checkpoint, "init": spec.kind,
                "glue_score": glue_metrics.glue_score({t: r["score"] for t, r in tasks.items()}),
                "time_s": round(time.perf_counter() - model_start, 1), "tasks": tasks}
            log.info("%s: GLUE score %.2f over %s", spec.name, models[spec.name]["glue_score"], cfg.glue_tasks)
        card = report_card.markdown(models, cfg.glue_tasks)
        write_text_atomic(out / "glue.md", card)
        save_config(cfg, out)
    write_json(cfg.glue_metrics, {"split": "dev", "tasks": cfg.glue_tasks, "models": models, "markdown": card,
                                  "reference_test_set": {"source": report_card.REFERENCE_SOURCE,
                                                         "models": report_card.REFERENCE}})
    write_text_atomic(cfg.plot, report_card.plot_csv(models, cfg.glue_tasks))
    log.info("\n%s", card)
    return {"glue_score": {m: r["glue_score"] for m, r in models.items()},
            "task_score": {f"{m}/{t}": r["score"] for m, res in models.items() for t, r in res["tasks"].items()},
            "tasks": len(cfg.glue_tasks), "models": len(models),
            "time_s": {m: r["time_s"] for m, r in models.items()}, "flops": flops}
