"""The official SQuAD v1.1 metrics, re-implemented line for line from the evaluation script
`evaluate-v1.1.py` (Rajpurkar et al. 2016; github.com/rajpurkar/SQuAD-explorer, also HF's
`evaluate` metric "squad", which needs the hub). Both compare normalised answers:
lower-cased, punctuation (string.punctuation) removed, the articles a/an/the removed, runs of
whitespace collapsed. Exact match is 1 if the normalised strings are equal; F1 is over the bags
of normalised tokens. Each is the maximum over a question's gold answers, averaged over the
questions and x100. The script scores a question without a prediction 0; here every question
must have one (an empty string scores 0)."""
from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

_PUNCTUATION = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (the script's order)."""
    text = s.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def f1_score(prediction: str, ground_truth: str) -> float:
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(ground_truth_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction: str, ground_truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def metric_max_over_ground_truths(metric_fn, prediction: str, ground_truths: Sequence[str]) -> float:
    return max(metric_fn(prediction, gt) for gt in ground_truths)


def evaluate(references: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> dict[str, float]:
    """{"exact_match", "f1"} x100 over the questions of `references` (id -> gold answer texts)."""
    missing = [qid for qid in references if qid not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} questions have no prediction (first: {missing[0]})")
    if not references:
        raise ValueError("no questions to score")
    em = sum(metric_max_over_ground_truths(exact_match_score, predictions[q], gts) for q, gts in references.items())
    f1 = sum(metric_max_over_ground_truths(f1_score, predictions[q], gts) for q, gts in references.items())
    return {"exact_match": 100.0 * em / len(references), "f1": 100.0 * f1 / len(references)}
