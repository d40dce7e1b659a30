"""Training checkpoints: everything needed to continue a run bit for bit, written atomically.

They live in `<model>.partial/checkpoints/` -- the output's work directory -- so a killed run
resumes from there, a finished run starts clean (its partial directory became the output),
and DVC never caches optimizer state unless `keep_final_checkpoint` asks for it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from pathlib import Path

import numpy as np
import torch

from pipeline.config import to_dict
from pipeline.errors import ConfigError
from pipeline.pretrain.config import RUNTIME_FIELDS

log = logging.getLogger(__name__)


def training_config(cfg) -> dict:
    return {k: v for k, v in to_dict(cfg).items() if k not in RUNTIME_FIELDS}


def fingerprint(cfg) -> str:
    return hashlib.sha256(json.dumps(training_config(cfg), sort_keys=True).encode()).hexdigest()[:16]


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(directory: Path, state: dict, keep: int) -> Path:
    """Write `step_NNNNNNN.pt` via a temporary file and rename, then prune old ones."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"step_{state['step']:07d}.pt"
    tmp = directory / f".{path.name}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)
    for old in sorted(directory.glob("step_*.pt"))[:-keep]:
        old.unlink()
    return path


def latest(directory: Path) -> Path | None:
    found = sorted(directory.glob("step_*.pt"))
    return found[-1] if found else None


def load(path: Path, cfg) -> dict:
    """The checkpoint's state; a checkpoint from another training config is an error."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state["fingerprint"] != fingerprint(cfg):
        ours, theirs = training_config(cfg), state["config"]
        diff = [k for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)]
        first = diff[0] if diff else "?"
        raise ConfigError(f"pretrain: checkpoint {path} was made with another config "
                          f"({first}: {theirs.get(first)!r} there, {ours.get(first)!r} now"
                          f"{f', +{len(diff) - 1} more' if len(diff) > 1 else ''}); "
                          "set pretrain.resume=false to start over")
    return state
