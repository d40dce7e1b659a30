"""The pretraining mixture: how many times each source's documents enter the train stream.

As in Dolma's and OLMo's mixes, a source is up- or down-sampled by a repeat factor set in
params (`tokenizer.mixture: {source or glob: factor}`): 2.0 writes each of its documents twice,
0.25 keeps a quarter of them, 0 leaves the source out; sources no pattern names keep 1.0. The
fractional part is a stable per-document coin (a hash of the id), so the same corpus gives the
same stream. The validation split is never resampled: its loss stays comparable across mixes.
"""
from __future__ import annotations

import fnmatch
import math
from collections import defaultdict

from pipeline.tokenizer.corpus import unit_hash


def source_of(doc_id: str) -> str:
    """Document ids are `<source>/<native id>` (ingest names them so); others form one group."""
    return doc_id.split("/", 1)[0] if "/" in doc_id else "unsourced"


class Mixture:
    def __init__(self, factors: dict[str, float]):
        self.factors = factors
        self.stats: dict[str, dict[str, int]] = defaultdict(lambda: {"docs": 0, "unique_tokens": 0,
                                                                      "stream_docs": 0, "stream_tokens": 0})

    def factor(self, source: str) -> float:
        return next((f for pattern, f in self.factors.items() if fnmatch.fnmatchcase(source, pattern)), 1.0)

    def copies(self, doc_id: str) -> int:
        factor = self.factor(source_of(doc_id))
        whole = math.floor(factor)
        return whole + (unit_hash(doc_id, salt="mixture") < factor - whole)

    def count(self, doc_id: str, tokens: int, copies: int) -> None:
        row = self.stats[source_of(doc_id)]
        row["docs"] += 1
        row["unique_tokens"] += tokens
        row["stream_docs"] += copies
        row["stream_tokens"] += tokens * copies

    def summary(self) -> dict[str, dict]:
        """Per source: the factor, documents and tokens (unique, and as written into the stream)
        and its share of the stream. Pretraining turns these into passes over each source."""
        total = sum(r["stream_tokens"] for r in self.stats.values()) or 1
        return {source: {"factor": self.factor(source), **row, "share": round(row["stream_tokens"] / total, 4)}
                for source, row in sorted(self.stats.items())}


def passes(summary: dict[str, dict], tokens_seen: int) -> dict[str, float]:
    """Passes over each source's unique tokens after `tokens_seen` tokens drawn uniformly from
    the stream (the trainer reads a fresh permutation of its windows each epoch)."""
    stream = sum(r["stream_tokens"] for r in summary.values()) or 1
    return {s: round(tokens_seen * r["stream_tokens"] / stream / max(1, r["unique_tokens"]), 3)
            for s, r in summary.items()}
