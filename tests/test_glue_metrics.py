"""Official GLUE metrics against values computed by hand."""
import math

import numpy as np
import pytest

from pipeline.finetune import metrics
from pipeline.glue import TASKS

# 4 examples: TP=1 (0), FN=1 (1), TN=2 (2, 3), FP=0
Y = [1, 1, 0, 0]
P = [1, 0, 0, 0]


def test_mcc_by_hand():
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 2 / sqrt(1*2*2*3)
    assert metrics.compute(("mcc",), Y, P)["mcc"] == round(100 * 2 / math.sqrt(12), 2) == 57.74


def test_accuracy_and_f1_by_hand():
    out = metrics.compute(("f1", "accuracy"), Y, P)
    # precision 1/1, recall 1/2 -> F1 = 2 * 1 * 0.5 / 1.5
    assert out == {"f1": 66.67, "accuracy": 75.0}


def test_pearson_spearman_by_hand():
    # y - mean = (-1, 0, 1); p - mean = (-4/3, -1/3, 5/3); cov = 3, |y|^2 = 2, |p|^2 = 42/9
    out = metrics.compute(("pearson", "spearman"), [1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert out["pearson"] == round(100 * 3 / math.sqrt(2 * 42 / 9), 2) == 98.2
    assert out["spearman"] == 100.0  # same ranks


def test_constant_prediction_has_zero_correlation():
    out = metrics.compute(("pearson", "spearman", "mcc"), [0, 1, 1, 0], [1, 1, 1, 1])
    assert out == {"pearson": 0.0, "spearman": 0.0, "mcc": 0.0}


def test_task_and_glue_score():
    mrpc = metrics.task_score({"f1": 80.0, "accuracy": 70.0})
    assert mrpc == 75.0
    assert metrics.glue_score({"cola": 10.0, "mrpc": mrpc}) == 42.5
    assert math.isnan(metrics.glue_score({}))


def test_every_task_metric_is_implemented():
    for task in TASKS.values():
        assert set(task.metrics) <= set(metrics.METRICS), task.name
        y = np.array([0, 1, 1, 0, 1])
        assert all(np.isfinite(list(metrics.compute(task.metrics, y, y).values())))


@pytest.mark.parametrize("name,expected", [("cola", ("mcc",)), ("sst2", ("accuracy",)),
                                           ("mrpc", ("f1", "accuracy")), ("qqp", ("f1", "accuracy")),
                                           ("stsb", ("pearson", "spearman")), ("mnli", ("accuracy",)),
                                           ("qnli", ("accuracy",)), ("rte", ("accuracy",)), ("wnli", ("accuracy",))])
def test_official_metric_per_task(name, expected):
    assert TASKS[name].metrics == expected
