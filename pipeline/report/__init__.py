"""report: the headline numbers of every stage, as one JSON and one markdown page.

It reads only what the other stages published (metrics/<stage>.json and metrics/glue.json), so
it runs in seconds and never recomputes anything.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from pipeline.artifacts import atomic_dir, metrics_path, save_config, write_json, write_text_atomic
from pipeline.config import resolve_path
from pipeline.errors import InputError
from pipeline.report.render import render_markdown

log = logging.getLogger(__name__)

STAGES_REPORTED = ["ingest", "curate", "validate", "tokenizer", "pretrain", "finetune"]


@dataclasses.dataclass
class Config:
    report: str = "data/report"
    # Stages whose metrics must exist; a missing one is an error, not a silent gap in the report.
    required: list[str] = dataclasses.field(default_factory=lambda: list(STAGES_REPORTED))


def load_metrics(stage: str) -> dict | None:
    path = metrics_path(stage)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def run(cfg: Config) -> dict:
    stages = {s: load_metrics(s) for s in STAGES_REPORTED}
    missing = [s for s in cfg.required if stages.get(s) is None]
    if missing:
        raise InputError(f"{metrics_path(missing[0])}: missing; run `lmpipe {missing[0]}` first")
    glue = load_metrics("glue")
    report = {"stages": {s: m for s, m in stages.items() if m is not None}, "glue": glue}
    with atomic_dir(cfg.report, resume=False) as out:
        write_json(out / "report.json", report)
        write_text_atomic(out / "report.md", render_markdown(report))
        save_config(cfg, out)
    log.info("report -> %s", resolve_path(cfg.report) / "report.md")
    times = {f"{s}_wall_time_s": m.get("wall_time_s") for s, m in report["stages"].items()}
    return {"stages_reported": len(report["stages"]), **times,
            "total_wall_time_s": round(sum(t or 0 for t in times.values()), 1)}
