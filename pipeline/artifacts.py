"""Writing stage outputs so that a killed stage never leaves something that looks complete.

A stage builds its output in `<out>.partial/` and renames it to `<out>` only when done
(`atomic_dir`). The partial directory is kept between runs, so steps that can resume pick up where
they stopped: datatrove's completion markers (ingest, curate), the result of each finished unit
(`reusable` / `save_result`: finetune's (model, task), an application's row). Pretraining resumes
from its last checkpoint (pipeline/pretrain/checkpoint.py). tests/test_kill_resume.py kills
stages with SIGKILL midway and checks that the rerun's outputs hash as an uninterrupted run's.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import yaml

from pipeline.config import resolve_path, to_dict
from pipeline.env import project_root

log = logging.getLogger(__name__)


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


RESUME_KEY = ".resume-key"  # inside <out>.partial: what the partial contents were made from


@contextlib.contextmanager
def atomic_dir(out: str | Path, resume: bool = True, key: str | None = None) -> Iterator[Path]:
    """Yield a work directory that becomes `out` on success: the one resume mechanism of every
    stage. A partial directory left by a killed run is kept when `resume` and, given `key` (a
    fingerprint of everything its contents depend on), only when it was started under the same
    key, so a changed config or input never mixes old work into a new output. Inside it, a stage
    resumes at its own granularity: datatrove's completion markers (ingest, curate), one result
    file per finished unit (a fine-tuning task, an application's row; `reusable`). `resume=False`
    starts it empty, for stages with nothing worth keeping."""
    out = resolve_path(out)
    work = partial_path(out)
    marker = work / RESUME_KEY
    if work.exists():
        same = key is None or (marker.exists() and marker.read_text() == key)
        if resume and same:
            log.info("%s: resuming the partial output of an interrupted run", work)
        else:
            log.info("%s: discarding the partial output of an interrupted run%s", work,
                     "" if not resume else " (made from other settings or inputs)")
            shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    if key is not None:
        marker.write_text(key)
    yield work
    marker.unlink(missing_ok=True)  # the output holds only what its inputs determine
    if out.exists():
        shutil.rmtree(out)
    os.replace(work, out)


def reusable(done: Path, key: str) -> dict | None:
    """The result a killed run saved at `done` (save_result) under the same `key`, else None."""
    if done.exists():
        saved = json.loads(done.read_text())
        if saved.get("fingerprint") == key:
            return saved["result"]
    return None


def save_result(done: Path, key: str, result: dict) -> None:
    """Save a finished unit's result, its wall times left out (they go to TIMING, which DVC ignores)."""
    write_json(done, {"fingerprint": key, "result": without_time(result)})


def write_text_atomic(path: str | Path, text: str) -> Path:
    path = resolve_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def write_json(path: str | Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def save_config(cfg: Any, directory: str | Path, name: str = "config.yaml") -> Path:
    """The resolved config, saved beside the output it produced."""
    return write_text_atomic(Path(directory) / name, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def metrics_path(stage: str) -> Path:
    return resolve_path(Path("metrics") / f"{stage}.json")


def portable(path: str | Path | None) -> str | None:
    """`path` relative to the project root when it lies inside it: what a cached output records,
    so that two clones of the repo write the same bytes."""
    if path is None:
        return None
    p = Path(path)
    try:
        return str(p.resolve().relative_to(project_root()))
    except ValueError:
        return str(p)


def weights_stamp(checkpoint: Path | None) -> list:
    """(name, sha256) of a checkpoint's weight files: content, not mtime, so the resume key of a
    row is the same in every clone and after `dvc checkout`."""
    if checkpoint is None:
        return []
    files = sorted(checkpoint.glob("*.safetensors")) + sorted(checkpoint.glob("*.bin"))
    return [(p.name, hashlib.file_digest(p.open("rb"), "sha256").hexdigest()) for p in files]


def fingerprint(*parts: Any) -> str:
    """A short key of JSON-able parts: identifies a finished unit of work kept for resuming."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def stage_key(cfg: Any, inputs: list[Path], code_dirs: list[Path]) -> str:
    """The key a stage's partial output resumes under (`atomic_dir(key=...)`): its resolved
    config, each input file's path, size and mtime (stat, not content: a multi-GB dump is not
    read twice), and the source files of its packages. A change to any of them starts clean."""
    stamps = sorted((portable(p), st.st_size, st.st_mtime_ns) for p in map(Path, inputs) for st in [p.stat()])
    code = hashlib.sha256(b"".join(f.read_bytes() for d in code_dirs for f in sorted(d.glob("*.py")))).hexdigest()
    return fingerprint(to_dict(cfg), stamps, code)


# Wall times recorded inside an output directory go to files of this name, which .dvcignore
# excludes from the output's hash: they vary from run to run, what the inputs determine does not.
TIMING = "timing.json"


def is_time(key: str) -> bool:
    return key == "time_s" or key.endswith("_time_s")


def without_time(result: dict) -> dict:
    """What a cached result file holds: every entry but the wall times."""
    return {k: v for k, v in result.items() if not is_time(k)}


def times_of(result: dict) -> dict:
    """The wall times of a result, for its TIMING file."""
    return {k: v for k, v in result.items() if is_time(k)}
