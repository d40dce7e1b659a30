"""Opening an application's data files: plain or compressed (.gz, .bz2, .xz, .zst, .zip), the
same decompression every ingest reader uses (pipeline/formats/inputs.py)."""
from __future__ import annotations

from pathlib import Path

from pipeline.artifacts import portable
from pipeline.errors import InputError
from pipeline.formats.inputs import read_all


def existing(path: str | Path, what: str) -> Path:
    """`path`, or an InputError naming it and the role it plays (e.g. 'ner.train')."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what}: file not found")
    return path


def read_text(path: str | Path, what: str) -> str:
    """The whole file decoded as UTF-8; a truncated or corrupt file, or bad UTF-8, is an error."""
    data, cut = read_all(existing(path, what))
    if cut is not None:
        raise InputError(f"{path}: {what}: {cut.message} (after {cut.offset:,} bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what}: not UTF-8 (byte {exc.start})") from None


def read_lines(path: str | Path, what: str) -> list[str]:
    """Lines without their line ends (a final newline does not make an empty last line)."""
    return read_text(path, what).splitlines()


def recorded(path: str | Path, root: str | Path) -> str:
    """`path` as metrics and configs record it: relative to `root` (data_root) when under it, else
    to the project (artifacts.portable); a `hub:` name as it is. The outputs then read the same in
    every clone, wherever the clone and the data lie."""
    if str(path).startswith("hub:"):
        return str(path)
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return portable(path)
