"""Hugging Face `datasets` layouts of an application's data, beside its native text files.

A data setting (e.g. `ner.train_file`) selects this loader when it names
    <path>.parquet            one parquet file, or a glob of shards (`train-*.parquet`): the
                              hub's parquet export, or `Dataset.to_parquet` output
    <dir>[<split>]            a `save_to_disk` directory: a Dataset, or a DatasetDict and the split
                              to read (optional when it holds one split)
    hub:<name>[:<config>][<split>]   the hub through `datasets`; only with LMPIPE_ONLINE=1
                              (e.g. hub:eriktks/conll2003[test], hub:google/xquad:xquad.en[validation])
Paths are under data_root like the text files. Each application maps its hub dataset's column
schema onto what its native loader returns (pipeline/formats/: conll.py, squad.py, dialogsum.py,
multi30k.py), so both layouts of the same content give the same examples.

`open_dataset(spec, what)` opens parquet / disk / hub with the offline guard; GLUE's
loaders (pipeline/finetune/loaders.py) open the hub-schema copies of its tasks with it too.
"""
from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.env import network_configured
from pipeline.errors import ConfigError, InputError

HUB = "hub:"
_SPLIT = re.compile(r"^(?P<base>.*?)(?:\[(?P<split>[\w.-]+)\])?$")

Kind = Literal["parquet", "disk", "hub"]


@dataclass
class Spec:
    kind: Kind
    location: str           # a file, glob, directory or hub dataset name
    split: str | None = None
    config: str | None = None

    def __str__(self) -> str:
        base = self.location
        if self.kind == "hub":
            base = HUB + base + (f":{self.config}" if self.config else "")
        return base + (f"[{self.split}]" if self.split else "")


def locate(root: Path, setting: str) -> str | Path:
    """A data setting as a location: `hub:` names as they are, anything else under `root`."""
    return setting if setting.startswith(HUB) else root / setting


def spec_of(location: str | Path) -> Spec | None:
    """The dataset layout `location` names, or None for a native text file."""
    text = str(location)
    match = _SPLIT.match(text)
    base, split = match["base"], match["split"]
    if text.startswith(HUB):
        name, _, config = base[len(HUB):].partition(":")
        return Spec("hub", name, split, config or None)
    if base.endswith(".parquet"):
        return Spec("parquet", base, split)
    if Path(base).is_dir():
        return Spec("disk", base, split)
    return None


def open_dataset(spec: Spec, what: str):
    """The `datasets.Dataset` that `spec` names; `what` (the setting, e.g. 'ner.train_file') names
    it in errors. Missing or unreadable data is a one-line InputError; the hub without
    LMPIPE_ONLINE=1 a ConfigError."""
    import datasets  # only where a dataset layout is used: the text loaders do without it
    from datasets.exceptions import DatasetNotFoundError
    from huggingface_hub.errors import RepositoryNotFoundError

    kind, location, split, config, where = spec.kind, spec.location, spec.split, spec.config, str(spec)
    if kind == "hub" and not network_configured():
        raise ConfigError(f"{what}: {where}: the hub needs a network (set LMPIPE_ONLINE=1) or a local "
                          f"copy (parquet or save_to_disk)")
    try:
        if kind == "parquet":
            files = sorted(glob.glob(str(location))) if glob.has_magic(str(location)) else [str(location)]
            if not files or not Path(files[0]).is_file():
                raise InputError(f"{location}: {what}: file not found")
            if split not in (None, "train"):
                raise InputError(f"{location}: {what}: a parquet file is one split; drop [{split}]")
            return datasets.load_dataset("parquet", data_files=files, split="train")
        if kind == "disk":
            if not any((Path(location) / f).exists() for f in ("dataset_dict.json", "state.json")):
                raise InputError(f"{location}: {what}: not a save_to_disk dataset (no dataset_dict.json "
                                 f"or state.json)")
            return _split(datasets.load_from_disk(str(location)), split, where, what)
        loaded = datasets.load_dataset(str(location), config, split=split)
        return loaded if split else _split(loaded, None, where, what)
    except InputError:
        raise
    except (RepositoryNotFoundError, DatasetNotFoundError):
        raise InputError(f"{where}: {what}: no such dataset on the hub (or it is private and no token is "
                         f"set)") from None
    except Exception as exc:  # corrupt parquet / arrow files, a file missing from a hub repo: one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{where}: {what}: cannot read it ({type(exc).__name__}: {first})") from None


def _split(loaded, split: str | None, where: str, what: str):
    import datasets

    if not isinstance(loaded, datasets.DatasetDict):
        if split is not None:
            raise InputError(f"{where}: {what}: a single Dataset has no split {split!r}")
        return loaded
    if split is None and len(loaded) == 1:
        return next(iter(loaded.values()))
    if split not in loaded:
        raise InputError(f"{where}: {what}: name a split as {where}[<split>] (has: {', '.join(loaded)})")
    return loaded[split]


def load_rows(location: str | Path, what: str, columns: tuple[str, ...]):
    """The dataset `location` names (spec_of), checked to have `columns`; None for a text file."""
    spec = spec_of(location)
    if spec is None:
        return None
    ds = open_dataset(spec, what)
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise InputError(f"{spec}: {what}: missing column(s) {missing} (has: {ds.column_names})")
    return ds
