"""Prediction files: GLUE submission TSVs (test) and scored predictions (dev).

The submission format is what gluebenchmark.com accepts: one `<Task>.tsv` per test split with
the header `index<TAB>prediction`, labels as in the task's TSV release (0/1, entailment, ...)
and STS-B scores as numbers.
"""
from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from pipeline.artifacts import write_text_atomic
from pipeline.glue import Task


def format_prediction(task: Task, value) -> str:
    return f"{float(value):.3f}" if task.is_regression else task.labels[int(value)]


def write_submission(task: Task, split: str, ds: datasets.Dataset, predictions: np.ndarray, out_dir: Path) -> Path:
    lines = ["index\tprediction"] + [f"{i}\t{format_prediction(task, p)}" for i, p in zip(ds["idx"], predictions)]
    return write_text_atomic(out_dir / task.submission[split], "\n".join(lines) + "\n")


def write_dev_predictions(task: Task, split: str, ds: datasets.Dataset, predictions: np.ndarray, out_dir: Path) -> Path:
    lines = ["index\tlabel\tprediction"] + [
        f"{i}\t{format_prediction(task, y)}\t{format_prediction(task, p)}"
        for i, y, p in zip(ds["idx"], ds["label"], predictions)]
    return write_text_atomic(out_dir / f"{task.name}_{split}.tsv", "\n".join(lines) + "\n")
