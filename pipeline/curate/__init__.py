"""curate: FineWeb-style filtering and deduplication of `docs` with datatrove.

Output (`paths.curated`):
    docs/*.parquet               kept documents, the docs schema
    removed/<step>/*.parquet     every dropped document, with `reason`
    logs/<job>/                  datatrove logs, per-task stats and completion markers
    config.yaml                  the resolved config
plus metrics/curate.json (the funnel) and plots/curate_funnel.csv.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from pipeline import artifacts
from pipeline.config import resolve_path, to_dict
from pipeline.curate import executors, funnel, recipe
from pipeline.curate.config import Config
from pipeline.curate.decont import glue_files
from pipeline.curate.lid import ensure_model
from pipeline.env import network_configured
from pipeline.errors import InputError
from pipeline.sources import data_root_path

__all__ = ["Config", "run"]
log = logging.getLogger(__name__)
FUNNEL_PLOT = "plots/curate_funnel.csv"


def input_rows(docs: Path) -> int:
    """Rows in the docs shards; checks each has the id and text columns."""
    shards = sorted(docs.glob("*.parquet")) if docs.is_dir() else []
    if not shards:
        raise InputError(f"{docs}: no *.parquet shards (run `lmpipe ingest` first)")
    rows = 0
    for shard in shards:
        try:
            meta = pq.ParquetFile(shard)
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise InputError(f"{shard}: not a readable parquet file ({exc})") from None
        missing = {"id", "text"} - set(meta.schema_arrow.names)
        if missing:
            raise InputError(f"{shard}: missing column(s) {', '.join(sorted(missing))}")
        rows += meta.metadata.num_rows
    return rows


def badwords_source(cfg: Config) -> str | None:
    """The bad-words list to use, or None: the rule is skipped (the recipe records a warning)."""
    if cfg.c4_badwords.path:
        path = resolve_path(cfg.c4_badwords.path)
        if not path.exists():
            raise InputError(f"{path}: bad-words list not found (curate.c4_badwords.path)")
        return str(path)
    if network_configured():
        from datatrove.pipeline.filters.c4_filters import _EN_BADWORDS_URL
        from datatrove.io import cached_asset_path_or_download

        return cached_asset_path_or_download(_EN_BADWORDS_URL, namespace="filters", subfolder="c4_badwords")
    return None


def _fingerprint(cfg: Config) -> str:
    return hashlib.sha1(json.dumps(to_dict(cfg), sort_keys=True, default=str).encode()).hexdigest()


def run(cfg: Config) -> dict:
    docs = resolve_path(cfg.docs)
    docs_in = input_rows(docs)
    glue = glue_files(data_root_path(cfg.data_root) / cfg.glue, cfg.decontaminate.tasks, cfg.decontaminate.splits,
                      cfg.decontaminate.missing_ok) if cfg.decontaminate.enabled else []
    lid_model = str(ensure_model(cfg.lid.model)) if cfg.lid.enabled else None
    badwords = badwords_source(cfg) if cfg.c4_badwords.enabled else None

    out = resolve_path(cfg.curated)
    fingerprint = _fingerprint(cfg)
    partial = artifacts.partial_path(out)
    # A partial run resumes only under the same config; otherwise its shards would be mixed in.
    resume = (partial / "fingerprint").exists() and (partial / "fingerprint").read_text() == fingerprint
    with artifacts.atomic_dir(out, resume=resume) as work_dir:
        (work_dir / "fingerprint").write_text(fingerprint)
        plan = recipe.build(cfg, docs, work_dir, work_dir / "work", glue, badwords, lid_model)
        for warning in plan.warnings:
            log.warning(warning)
        job_times = executors.run_jobs(cfg.executor, plan.jobs, work_dir / "logs")
        steps, timing = funnel.build(work_dir / "logs", work_dir / "removed", plan.jobs, plan.funnel)
        first = steps[plan.funnel[0]]["docs_in"] if plan.funnel else docs_in
        if cfg.limit == -1 and first != docs_in:
            raise funnel.FunnelError(f"curate: {docs_in} input rows but the first step saw {first}")
        if not cfg.keep_work:
            shutil.rmtree(work_dir / "work", ignore_errors=True)
        artifacts.save_config(cfg, work_dir)
        (work_dir / "timing.json").write_text(json.dumps({"jobs": job_times, "steps": timing}, indent=2))

    kept = steps[plan.funnel[-1]]["kept"] if plan.funnel else first
    artifacts.write_text_atomic(FUNNEL_PLOT, funnel.csv_rows(first, steps, plan.funnel))
    return {
        "docs_in": first,
        "docs_kept": kept,
        "docs_removed": first - kept,
        "kept_fraction": round(kept / first, 4) if first else 0.0,
        "duplicates_exact": sum(steps.get("exact_dedup", {}).get("removed", {}).values()),
        "duplicates_near": sum(steps.get("minhash_dedup", {}).get("removed", {}).values()),
        "contaminated": sum(steps.get("decontaminate", {}).get("removed", {}).values()),
        "steps": steps,
        "job_time_s": job_times,
        "warnings": plan.warnings,
    }
