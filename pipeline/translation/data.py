"""Parallel text: two files, one sentence per line, line n of one the translation of line n of
the other (Multi30K's task1/raw/*.en.gz and *.de.gz), plain or compressed.

Unequal line counts mean the files do not align: an error naming both files and their counts.
A pair with an empty side is dropped and counted (`empty_line`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.apps.files import read_lines
from pipeline.errors import InputError


@dataclass
class Pair:
    id: int          # line number in both files, from 1
    source: str
    target: str


@dataclass
class Loaded:
    pairs: list[Pair]
    read: int                                             # lines in each file
    dropped: Counter = field(default_factory=Counter)     # reason -> pairs

    def accounting(self) -> dict:
        return {"rows": self.read, "kept": len(self.pairs), "dropped": dict(self.dropped)}


def load(source: str | Path, target: str | Path, what: str) -> Loaded:
    """`what` names the pair of files in errors (e.g. 'translation.train')."""
    src, tgt = read_lines(source, f"{what}_source"), read_lines(target, f"{what}_target")
    if len(src) != len(tgt):
        raise InputError(f"{source} has {len(src):,} lines but {target} has {len(tgt):,}: "
                         f"{what}: parallel files must align line by line")
    pairs, dropped = [], Counter()
    for n, (s, t) in enumerate(zip(src, tgt), 1):
        if not s.strip() or not t.strip():
            dropped["empty_line"] += 1
        else:
            pairs.append(Pair(n, s.strip(), t.strip()))
    if not pairs:
        raise InputError(f"{source}: {what}: no non-empty sentence pair ({len(src)} lines)")
    return Loaded(pairs, len(src), dropped)
