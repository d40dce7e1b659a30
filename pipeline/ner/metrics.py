"""Entity-level scores: seqeval's micro-averaged precision, recall and F1, x100.

seqeval's default mode follows conlleval (the CoNLL-2003 shared task's scorer): an entity is a
maximal run of one type that starts at B- or at an I- following O or another type, and counts as
correct only with exact boundaries and type. (mode="strict" would instead drop IOB2-invalid
I- starts; on well-formed IOB2 gold the two differ only in how ill-formed predictions count.)
"""
from __future__ import annotations

from seqeval.metrics import f1_score, precision_score, recall_score


def entity_scores(references: list[list[str]], predictions: list[list[str]]) -> dict[str, float]:
    if len(references) != len(predictions) or any(len(r) != len(p) for r, p in zip(references, predictions)):
        raise ValueError("predictions must have one tag per reference tag")
    # zero_division=0: no predicted (or no gold) entity scores 0, without seqeval's warning
    return {name: 100.0 * float(score(references, predictions, zero_division=0))
            for name, score in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score))}
