"""DialogSum (Chen et al. 2021) JSON Lines, in any compression pipeline.apps.files reads.

One object per line: `fname`, `dialogue` (turns `#Person1#: ...` separated by newlines) and the
reference summaries: `summary` in train and dev, `summary1`..`summary3` in test (../shared/data
README). A row without a non-empty summary (`no_summary`) or dialogue (`no_dialogue`) is dropped
and counted; a line that is not a JSON object, or has no `dialogue` field at all (not DialogSum),
is an error naming the file and line.

The HF `knkarthick/dialogsum` layout reads too (pipeline/apps/hf.py: parquet, save_to_disk,
hub): the same fields as columns, `id` for `fname`.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.apps.files import read_lines
from pipeline.apps.hf import load_rows
from pipeline.errors import InputError

REFERENCE = re.compile(r"summary\d*")  # summary (train/dev) or summary1..3 (test)


@dataclass
class Dialogue:
    id: str
    dialogue: str
    references: list[str]   # one in train/dev, three in test

    @property
    def turns(self) -> list[str]:
        return [t.strip() for t in self.dialogue.split("\n") if t.strip()]


@dataclass
class Loaded:
    rows: list[Dialogue]
    read: int                                             # JSON objects in the file
    dropped: Counter = field(default_factory=Counter)     # reason -> rows

    def accounting(self) -> dict:
        return {"rows": self.read, "kept": len(self.rows), "dropped": dict(self.dropped)}


def _references(obj: dict) -> list[str]:
    keys = sorted((k for k in obj if REFERENCE.fullmatch(k)), key=lambda k: (len(k), k))
    return [obj[k].strip() for k in keys if isinstance(obj[k], str) and obj[k].strip()]


def _objects(path: str | Path, what: str) -> Iterator[tuple[int, dict]]:
    """(line, object) of the JSONL file, or (row, row) of the dataset; every one has a dialogue."""
    ds = load_rows(path, what, ("dialogue",))
    if ds is not None:
        yield from enumerate(ds, 1)
        return
    for n, line in enumerate(read_lines(path, what), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: {what}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or "dialogue" not in obj:
            raise InputError(f"{path}:{n}: {what}: expected a DialogSum object with a 'dialogue' field")
        yield n, obj


def load(path: str | Path, what: str) -> Loaded:
    """`what` names the file's role in errors (e.g. 'summarization.train_file')."""
    rows, dropped, read = [], Counter(), 0
    for n, obj in _objects(path, what):
        read += 1
        dialogue, references = obj["dialogue"], _references(obj)
        if not isinstance(dialogue, str) or not dialogue.strip():
            dropped["no_dialogue"] += 1
        elif not references:
            dropped["no_summary"] += 1
        else:
            name = obj.get("fname") or obj.get("id") or f"line-{n}"
            rows.append(Dialogue(str(name), dialogue.strip(), references))
    if not rows:
        raise InputError(f"{path}: {what}: no row with a dialogue and a summary ({read} rows read)")
    return Loaded(rows, read, dropped)
