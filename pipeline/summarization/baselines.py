"""Extractive baselines: no training, the bar a generator has to clear.

lead          the first k turns. News summarization's LEAD-3 (See et al. 2017); in DialogSum the
              opening turns usually state the topic (a greeting, then the request).
longest_turn  the longest turn (in words), the first of equal ones: where dialogues put most content.
Turns keep their `#PersonN#:` tags: the references name the speakers the same way.
"""
from __future__ import annotations

from pipeline.formats.dialogsum import Dialogue

METHODS = ("lead", "longest_turn")


def lead(dialogue: Dialogue, k: int) -> str:
    return " ".join(dialogue.turns[:k])


def longest_turn(dialogue: Dialogue) -> str:
    turns = dialogue.turns
    return max(turns, key=lambda t: len(t.split())) if turns else ""


def predict(method: str, dialogues: list[Dialogue], lead_turns: int) -> list[str]:
    if method == "lead":
        return [lead(d, lead_turns) for d in dialogues]
    if method == "longest_turn":
        return [longest_turn(d) for d in dialogues]
    raise ValueError(f"unknown summarization baseline {method!r} (known: {', '.join(METHODS)})")
