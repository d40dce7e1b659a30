"""ROUGE-1/2/L F1 x 100 (Lin 2004) with Google's rouge-score package and its Porter stemmer, the
implementation DialogSum's and most summarization papers' numbers come from. With several
references (DialogSum test has three) each example scores against its best reference per metric
(RougeScorer.score_multi), and the corpus figure is the mean over examples.
rouge-score lowercases and keeps letters and digits only: `#Person1#` counts as the word person1.
"""
from __future__ import annotations

from rouge_score import rouge_scorer

METRICS = ["rouge1", "rouge2", "rougeL"]


def rouge(predictions: list[str], references: list[list[str]]) -> dict[str, float]:
    if len(predictions) != len(references) or not predictions:
        raise ValueError(f"rouge: {len(predictions)} predictions for {len(references)} reference sets")
    scorer = rouge_scorer.RougeScorer(METRICS, use_stemmer=True)
    totals = dict.fromkeys(METRICS, 0.0)
    for prediction, refs in zip(predictions, references):
        scores = scorer.score_multi(refs, prediction)
        for m in METRICS:
            totals[m] += scores[m].fmeasure
    return {m: 100 * total / len(predictions) for m, total in totals.items()}
