"""Read a GLUE task into canonical datasets, checking the layout first.

Every source becomes, per split, a `datasets.Dataset` with the columns
    idx (int), text_a (str), text_b (str; "" for single-sentence tasks), label
where label is the class id (int) or the STS-B score (float), and -1 on unlabelled test splits.

Sources (`Config.source`):
    tsv      GLUE's original release: <root>/<Task.dir>/<split>.tsv (e.g. ../shared/data/glue)
    parquet  the hub's parquet export: <root>/<task>/<hub split>-*.parquet
    disk     `DatasetDict.save_to_disk` output: <root>/<task>/ with hub split names
    hub      `nyu-mll/glue` through `datasets`; only when LMPIPE_ONLINE=1
    auto     whichever of tsv / disk / parquet the directory holds
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import datasets

from pipeline.apps.hf import Spec, open_dataset
from pipeline.errors import ConfigError, InputError
from pipeline.glue import HUB_SPLITS, STSB_RANGE, Task

log = logging.getLogger(__name__)

HUB_DATASET = "nyu-mll/glue"
COLUMNS = ("idx", "text_a", "text_b", "label")


def detect_source(root: Path, task: Task) -> str:
    if (root / task.dir).is_dir() and any((root / task.dir).glob("*.tsv")):
        return "tsv"
    if (root / task.name / "dataset_dict.json").exists():
        return "disk"
    if any((root / task.name).glob("*.parquet")):
        return "parquet"
    raise InputError(f"{task.name}: {root / task.dir}: task not found (no TSV, parquet or save_to_disk data)")


def load_task(task: Task, root: Path | None, source: str, splits: tuple[str, ...]) -> dict[str, datasets.Dataset]:
    """The requested splits of `task`, validated; raises InputError on the first bad row."""
    if source == "auto":
        assert root is not None
        source = detect_source(root, task)
    if source == "tsv":
        assert root is not None
        return {s: read_tsv(task, root / task.dir / f"{s}.tsv", s) for s in splits}
    if source not in ("hub", "disk", "parquet"):
        raise ConfigError(f"finetune.source: unknown source {source!r}")
    out = {}
    for s in splits:
        split = HUB_SPLITS[s]
        # The three layouts of the hub's schema open as the applications' do (apps/hf.py).
        if source == "hub":
            spec = Spec("hub", HUB_DATASET, split, task.name)
        elif source == "disk":
            spec = Spec("disk", str(root / task.name), split)
        else:
            spec = Spec("parquet", str(root / task.name / f"{split}-*.parquet"))
        ds = open_dataset(spec, f"finetune.source={source} ({task.name})")
        out[s] = _from_hub_split(task, ds, str(spec), s)
    return out


# ------------------------------------------------------------------------------------- TSV

def _labelled(task: Task, split: str) -> bool:
    return task.tsv_label is not None and split not in task.test


def read_tsv(task: Task, path: Path, split: str) -> datasets.Dataset:
    """One GLUE TSV file. Quote characters are literal in GLUE (MRPC, SST-2 hold bare `"`), so
    lines are split on tabs only; `utf-8-sig` drops MRPC's byte-order mark."""
    if not path.exists():
        raise InputError(f"{task.name}: {path}: file not found")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        lines = [line.rstrip("\r\n") for line in fh]
    while lines and not lines[-1]:
        lines.pop()
    if split in task.headerless:
        header, first = task.headerless[split], 1
    else:
        if not lines:
            raise InputError(f"{task.name}: {path}: empty file, expected a header row")
        header, first = tuple(lines[0].split("\t")), 2
    is_test = split in task.test
    required = task.tsv_text + ((task.tsv_label,) if _labelled(task, split) else ()) \
        + ((task.tsv_index,) if is_test else ())
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{task.name}: {path} row 1: header lacks column(s) {missing} (has: {list(header)})")
    pos = {c: header.index(c) for c in required}
    rows = lines[first - 1:]
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    for n, line in enumerate(rows, start=first):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise InputError(f"{task.name}: {path} row {n}: expected {len(header)} columns, got {len(fields)}")
        cols["idx"].append(_index(task, path, n, fields[pos[task.tsv_index]]) if is_test else len(cols["idx"]))
        cols["text_a"].append(fields[pos[task.tsv_text[0]]])
        cols["text_b"].append(fields[pos[task.tsv_text[1]]] if len(task.tsv_text) > 1 else "")
        if _labelled(task, split):
            cols["label"].append(parse_label(task, fields[pos[task.tsv_label]], f"{path} row {n}"))
        else:
            cols["label"].append(-1.0 if task.is_regression else -1)
    if not rows:
        raise InputError(f"{task.name}: {path}: no rows")
    return datasets.Dataset.from_dict(cols, features=features(task))


def _index(task: Task, path: Path, n: int, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{task.name}: {path} row {n}: index {value!r} is not an integer") from None


def parse_label(task: Task, value: str, where: str) -> int | float:
    if task.is_regression:
        try:
            score = float(value)
        except ValueError:
            score = math.nan
        if not STSB_RANGE[0] <= score <= STSB_RANGE[1]:
            raise InputError(f"{task.name}: {where}: score {value!r} outside {list(STSB_RANGE)}")
        return score
    if value not in task.labels:
        raise InputError(f"{task.name}: {where}: label {value!r} not in {list(task.labels)}")
    return task.labels.index(value)


def features(task: Task) -> datasets.Features:
    label = datasets.Value("float32" if task.is_regression else "int64")
    return datasets.Features({"idx": datasets.Value("int64"), "text_a": datasets.Value("string"),
                              "text_b": datasets.Value("string"), "label": label})


# --------------------------------------------------------------- hub / parquet / save_to_disk

def _from_hub_split(task: Task, ds: datasets.Dataset, where: str, split: str) -> datasets.Dataset:
    """Map a `nyu-mll/glue`-schema split onto the canonical columns and check its labels."""
    needed = task.hub_text + ("label", "idx")
    missing = [c for c in needed if c not in ds.column_names]
    if missing:
        raise InputError(f"{task.name}: {where}: missing column(s) {missing} (has: {ds.column_names})")
    text_b = ds[task.hub_text[1]] if len(task.hub_text) > 1 else [""] * len(ds)
    labels = ds["label"]
    if split not in task.test:
        for n, value in enumerate(labels, start=1):
            _check_hub_label(task, value, f"{where} row {n}")
    cols = {"idx": ds["idx"], "text_a": ds[task.hub_text[0]], "text_b": text_b, "label": labels}
    return datasets.Dataset.from_dict(cols, features=features(task))


def _check_hub_label(task: Task, value, where: str) -> None:
    if task.is_regression:
        ok = value is not None and STSB_RANGE[0] <= value <= STSB_RANGE[1]
        allowed = list(STSB_RANGE)
    else:
        ok = value in range(len(task.labels))
        allowed = list(range(len(task.labels)))
    if not ok:
        raise InputError(f"{task.name}: {where}: label {value!r} outside {allowed}")
