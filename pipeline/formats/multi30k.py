"""Parallel text: two files, one sentence per line, line n of one the translation of line n of
the other (Multi30K's task1/raw/*.en.gz and *.de.gz), plain or compressed.

Either side may instead be a column of a dataset in the HF `bentrevett/multi30k` layout (one row
per pair, a column per language, `en` and `de`): a parquet file, a save_to_disk directory or
`hub:` (pipeline/apps/hf.py); both sides usually name the same dataset, row n being line n.

Unequal line counts mean the files do not align: an error naming both files and their counts.
A pair with an empty side is dropped and counted (`empty_line`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.apps.files import read_lines
from pipeline.apps.hf import load_rows
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


def _side(location: str | Path, column: str, what: str) -> list[str]:
    """The lines of a text file, or the `column` of a dataset (a missing value as an empty line)."""
    ds = load_rows(location, what, (column,))
    return read_lines(location, what) if ds is None else [value or "" for value in ds[column]]


def load(source: str | Path, target: str | Path, what: str, columns: tuple[str, str] = ("en", "de")) -> Loaded:
    """`what` names the pair of files in errors (e.g. 'translation.train'); `columns` are the
    source and target languages' columns where a side is a dataset."""
    src, tgt = _side(source, columns[0], f"{what}_source"), _side(target, columns[1], f"{what}_target")
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
