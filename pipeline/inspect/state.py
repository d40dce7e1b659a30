"""The pipeline's state: per stage, up to date in DVC or not, when it last ran, a headline number."""
from __future__ import annotations

import datetime as dt
import json

from pipeline.artifacts import metrics_path
from pipeline.env import project_root
from pipeline.stages import APPLICATIONS, STAGES

# The one number a user looks at first, per stage (first key present wins).
HEADLINE_KEYS = {
    "fetch": ["files"],
    "ingest": ["docs_out", "docs", "docs_kept"],
    "curate": ["docs_kept", "kept", "docs_out"],
    "validate": ["success", "passed"],
    "tokenizer": ["vocab_size", "tokens_total", "n_tokens"],
    "pretrain": ["final_val_loss", "val_loss", "final_loss", "loss"],
    "finetune": ["glue_score", "score"],
    # the applications: their primary metric per model (metrics/<app>.json "score")
    **{app: ["score"] for app in APPLICATIONS},
    "report": ["stages_reported"],
}


def dvc_changed_stages() -> dict[str, list] | None:
    """DVC's status of the whole pipeline; None outside a DVC project."""
    root = project_root()
    if not (root / ".dvc").is_dir():
        return None
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return repo.status()


# What a headline key is called on screen; keys not listed are shown as they are.
HEADLINE_NAMES = {"files": "input files", "docs_out": "documents", "docs_kept": "documents kept", "success": "checks passed",
                  "vocab_size": "vocabulary", "final_val_loss": "val loss", "val_loss": "val loss",
                  "final_loss": "train loss", "glue_score": "GLUE"}


def format_headline(key: str, value: object) -> str:
    """`val loss 4.959`, `GLUE pipeline 37.6, minilm 54.6`: named, rounded, one line."""
    def number(v: object) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.4g}"
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)

    name = HEADLINE_NAMES.get(key, key.replace("_", " "))
    if isinstance(value, dict):
        return f"{name} " + ", ".join(f"{k} {number(v)}" for k, v in value.items())
    return f"{name} {number(value)}"


def headline(stage: str, metrics: dict) -> tuple[str, object] | None:
    for key in HEADLINE_KEYS.get(stage, []):
        if key in metrics:
            return key, metrics[key]
    for key, value in metrics.items():  # fall back on the first scalar metric
        if isinstance(value, (int, float)) and key != "wall_time_s":
            return key, value
    return None


def pipeline_state() -> list[dict]:
    changed = dvc_changed_stages()
    rows = []
    for stage in STAGES:
        path = metrics_path(stage)
        row = {"stage": stage, "ran": path.exists(), "last_run": None, "headline": None,
               "up_to_date": None if changed is None else stage not in changed}
        if path.exists():
            row["last_run"] = dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
            found = headline(stage, json.loads(path.read_text()))
            row["headline"] = format_headline(*found) if found else None
        rows.append(row)
    return rows
