"""curate: FineWeb-style filtering and deduplication of `docs` with datatrove.

Per-source recipes (curate.recipes) change the filter steps' settings for the sources they
list; dedup and decontamination run over all sources together.

Output (`paths.curated`):
    docs/*.parquet               kept documents, the docs schema
    removed/<step>/*.parquet     every dropped document, with `reason` and `recipe`
    logs/<job>/                  datatrove logs, per-task stats and completion markers
    config.yaml                  the resolved config
plus metrics/curate.json (the funnel) and plots/curate_funnel.csv.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import artifacts
from pipeline.config import resolve_path
from pipeline.curate import executors, funnel
from pipeline.curate import recipe as recipe_module
from pipeline.curate.config import Config, recipe_for
from pipeline.curate.decont import glue_files
from pipeline.curate.lid import ensure_model
from pipeline.curate.steps import BADWORDS_LANGUAGES
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


def input_sources(docs: Path) -> set[str | None]:
    """The `source` values of the docs shards (None for rows, or shards, without one)."""
    sources: set[str | None] = set()
    for shard in sorted(docs.glob("*.parquet")):
        if "source" not in pq.ParquetFile(shard).schema_arrow.names:
            sources.add(None)
            continue
        sources.update(pc.unique(pq.read_table(shard, columns=["source"]).column("source")).to_pylist())
    return sources


def check_recipes(cfg: Config, docs: Path) -> list[str]:
    """Before any work: no source of the input matches two recipes (recipe_for raises). Logs each
    source's recipe; returns a warning for each recipe that matches no source (a typo in its
    `sources` would otherwise go unnoticed)."""
    if not cfg.recipes:
        return []
    by_recipe: dict[str | None, list[str]] = {}
    for source in sorted(input_sources(docs), key=str):
        by_recipe.setdefault(recipe_for(cfg.recipes, source), []).append(str(source))
    for recipe, sources in by_recipe.items():
        log.info("curate: %s settings for sources %s", recipe or "base", ", ".join(sources))
    return [f"curate.recipes.{recipe}: matches no source of the input ({', '.join(r.sources)})"
            for recipe, r in cfg.recipes.items() if recipe not in by_recipe]


def check_badwords(cfg: Config) -> None:
    """Every bad-words list an enabled c4_badwords step will read is there (a missing list is an
    error, never a rule silently skipped), or, for an empty path, the network may be used. The
    lists read: one per language the language filter keeps (with the filter off, C4BadWordsFilter's
    default, English) that LDNOOBW has a list for."""
    languages = set()
    for lid in cfg.step_settings("lid").values():
        languages.update(lid.languages if lid.enabled else ["en"])
    for recipe, settings in cfg.step_settings("c4_badwords").items():
        if not settings.enabled:
            continue
        key = f"curate.{f'recipes.{recipe}.' if recipe else ''}c4_badwords.path"
        if not settings.path:
            if not network_configured():
                raise InputError(f"{key}: empty, and datatrove's download of the lists needs the network "
                                 f"(LMPIPE_ONLINE=1); set a local copy (badwords/ldnoobw under data_root) or "
                                 f"disable the step")
            continue
        path = recipe_module.badwords_path(cfg, settings)
        lists = [path] if path.is_file() else [path / lang for lang in sorted(languages & BADWORDS_LANGUAGES)]
        for file in [path, *lists]:
            if not file.exists():
                raise InputError(f"{file}: bad-words list not found ({key}; a relative path is under data_root)")


def decont_files(cfg: Config) -> list[tuple[str, Path]]:
    """(kind, path) of every evaluation file to index: GLUE's dev/test TSVs, then each listed
    application's evaluation set, which must exist (its stage would fail on it later anyway)."""
    root = data_root_path(cfg.data_root)
    d = cfg.decontaminate
    files = [("glue", p) for p in glue_files(root / cfg.glue, d.tasks, d.splits, d.missing_ok)]
    for app in d.applications:
        path = root / getattr(cfg, f"{app}_eval")
        if not path.is_file():
            raise InputError(f"{path}: paths.{app}_eval: file not found (curate.decontaminate.applications)")
        files.append((app, path))
    return files


def resume_key(cfg: Config) -> str:
    """A partial run resumes only under the same config, documents and code; otherwise shards
    made from something else would be mixed in."""
    return artifacts.stage_key(cfg, sorted(resolve_path(cfg.docs).glob("*.parquet")), [Path(__file__).parent])


def run(cfg: Config) -> dict:
    docs = resolve_path(cfg.docs)
    docs_in = input_rows(docs)
    eval_files = decont_files(cfg) if cfg.decontaminate.enabled else []
    warnings = check_recipes(cfg, docs)
    check_badwords(cfg)
    for model in {lid.model for lid in cfg.step_settings("lid").values() if lid.enabled}:
        ensure_model(model)

    out = resolve_path(cfg.curated)
    with artifacts.atomic_dir(out, key=resume_key(cfg)) as work_dir:
        plan = recipe_module.build(cfg, docs, work_dir, work_dir / "work", eval_files)
        for warning in warnings:
            log.warning(warning)
        job_times = executors.run_jobs(cfg.executor, plan.jobs, work_dir / "logs")
        steps, timing = funnel.build(work_dir / "logs", work_dir / "removed", plan.jobs, plan.funnel)
        first = steps[plan.funnel[0]]["docs_in"] if plan.funnel else docs_in
        if cfg.limit == -1 and first != docs_in:
            raise funnel.FunnelError(f"curate: {docs_in} input rows but the first step saw {first}")
        if not cfg.keep_work:
            shutil.rmtree(work_dir / "work", ignore_errors=True)
        artifacts.save_config(cfg, work_dir)
        (work_dir / artifacts.TIMING).write_text(json.dumps({"jobs": job_times, "steps": timing}, indent=2))

    kept = steps[plan.funnel[-1]]["kept"] if plan.funnel else first
    artifacts.write_text_atomic(FUNNEL_PLOT, funnel.csv_rows(steps, plan.funnel, out,
                                                             lambda source: recipe_for(cfg.recipes, source) or "base"))
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
        "warnings": warnings,
    }
