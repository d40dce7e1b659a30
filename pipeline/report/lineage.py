"""Which corpus, tokenizer and checkpoint a score came from: the DVC hashes of the outputs.

The stage reads dvc.lock as a YAML file (a stage never imports DVC). By the time `dvc repro`
runs the report, DVC has written every upstream stage's entry, so the hashes are those of the
outputs the report itself reads. Run by hand (`lmpipe report`) against a workspace that is not
committed, an entry may be stale: `dvc status` says so, and the page shows the lock's hashes.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.config import resolve_path

# The artifacts a reader asks about, by the stage that writes them (dvc.yaml's outs).
ARTIFACTS = {"docs": "ingest", "curated": "curate", "tokenizer": "tokenizer", "tokens": "tokenizer",
             "model": "pretrain", "finetune": "finetune"}


def read_lock(path: str | Path = "dvc.lock") -> dict[str, dict[str, str]]:
    """{stage: {out path: md5}} from dvc.lock; {} where there is no lock yet (a fresh checkout)."""
    lock = resolve_path(path)
    if not lock.exists():
        return {}
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    return {stage: {out["path"]: out.get("md5", "") for out in entry.get("outs", [])}
            for stage, entry in stages.items()}


def lineage(paths: dict[str, str], lock_path: str | Path = "dvc.lock") -> dict[str, dict]:
    """{artifact: {"path", "stage", "md5"}} for the ARTIFACTS, paths as params.yaml's `paths`.
    md5 is None where dvc.lock has no entry (the stage was run outside DVC)."""
    lock = read_lock(lock_path)
    out = {}
    for name, stage in ARTIFACTS.items():
        path = paths[name]
        out[name] = {"path": path, "stage": stage, "md5": lock.get(stage, {}).get(path)}
    return out
