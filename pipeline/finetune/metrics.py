"""GLUE's official metrics (Wang et al. 2019, table 1) with scikit-learn / scipy.

All scores are reported x100, as on the GLUE leaderboard. The GLUE score is the mean of the task
scores, where a task with several metrics (MRPC, QQP: F1 and accuracy; STS-B: Pearson and
Spearman; MNLI: matched and mismatched accuracy) scores the unweighted mean of them.
"""
from __future__ import annotations

import math
from statistics import mean

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


def _corr(fn, y_true, y_pred) -> float:
    # A constant prediction has no correlation; scipy returns nan and warns. GLUE counts it as 0.
    if np.std(y_pred) == 0 or np.std(y_true) == 0:
        return 0.0
    return float(fn(y_true, y_pred)[0])


METRICS = {
    "mcc": lambda y, p: float(matthews_corrcoef(y, p)),
    "accuracy": lambda y, p: float(accuracy_score(y, p)),
    "f1": lambda y, p: float(f1_score(y, p)),  # of the positive class (paraphrase / duplicate)
    "pearson": lambda y, p: _corr(pearsonr, y, p),
    "spearman": lambda y, p: _corr(spearmanr, y, p),
}


def compute(metric_names: tuple[str, ...], y_true, y_pred) -> dict[str, float]:
    """{metric: score x100} for one task's split."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return {m: round(100 * METRICS[m](y_true, y_pred), 2) for m in metric_names}


def task_score(metrics: dict[str, float]) -> float:
    """One number per task: the unweighted mean of its official metrics."""
    return round(mean(metrics.values()), 2)


def glue_score(task_scores: dict[str, float]) -> float:
    """The GLUE score: mean of the task scores over the tasks that were run."""
    values = [v for v in task_scores.values() if not math.isnan(v)]
    return round(mean(values), 2) if values else math.nan
