"""validate: a Great Expectations gate on the curated documents.

The suites (pipeline/validate/suite.py) run in a file-backed GX context kept inside the output
directory, offline and without analytics (pipeline/env.py), on `batch_size` rows at a time, then
on one frame of every document's id and content hash (pipeline/validate/gx_run.py): memory
stays a batch plus those two strings per document. Output (`paths.validation`):
    result.json     the GX validation result, merged over the batches and the corpus run
    gate.json       the verdict and a hash of what was validated (deterministic: a DVC dependency)
    gx/             the GX project, with Data Docs under gx/uncommitted/data_docs/local_site/
A failing suite raises ValidationFailed (exit 2) naming the failed expectations and the result
path; the output then stays in `<validation>.partial/`, which DVC never takes as complete.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow.parquet as pq

from pipeline import artifacts
from pipeline.config import resolve_path
from pipeline.errors import InputError, PipelineError

__all__ = ["Config", "run", "ValidationFailed"]
log = logging.getLogger(__name__)


class ValidationFailed(PipelineError):
    """The curated documents do not meet the suite."""


@dataclass
class Config:
    curated: str = "data/curated"
    validation: str = "data/validation"
    # Mirror curate's lid.languages and length bounds (params.yaml shares them with YAML anchors).
    languages: list[str] = field(default_factory=lambda: ["en"])
    min_chars: int = 100
    max_chars: int = 1_000_000
    min_rows: int = 1
    data_docs: bool = True  # build GX Data Docs (HTML) beside the result
    batch_size: int = 20_000  # rows per GX run (params.yaml says where the number comes from)

    def __post_init__(self):
        if not self.languages:
            raise ValueError("languages: must name at least one language")
        if self.batch_size < 1:
            raise ValueError("batch_size: must be at least 1")


def read_batches(curated: Path, batch_size: int) -> Iterator[pd.DataFrame]:
    """The curated documents with their content hash, at most `batch_size` rows at a time (a batch
    never spans two shards). No documents at all: one empty frame, which the suites then fail."""
    from pipeline.curate.normalize import content_hash

    read = 0
    for shard in sorted((curated / "docs").glob("*.parquet")):
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=batch_size):
            df = batch.to_pandas()
            df["content_hash"] = df["text"].map(lambda t: content_hash(t) if isinstance(t, str) else None)
            read += 1
            yield df
    if not read:
        yield pd.DataFrame(columns=["text", "content_hash"])


def run(cfg: Config) -> dict:
    from pipeline.validate.gx_run import validate_batches

    curated = resolve_path(cfg.curated)
    if not curated.is_dir():
        raise InputError(f"{curated}: curated directory not found (run `lmpipe curate` first)")
    out = resolve_path(cfg.validation)
    with artifacts.atomic_dir(out, resume=False) as work:
        result, corpus = validate_batches(read_batches(curated, cfg.batch_size), cfg, work)
        (work / "result.json").write_text(json.dumps(run_independent(result), indent=2, default=str))
        failed = [r for r in result["results"] if not r["success"]]
        if failed:
            names = ", ".join(_describe(r) for r in failed)
            raise ValidationFailed(f"{len(failed)}/{len(result['results'])} expectations failed ({names}); "
                                   f"see {artifacts.partial_path(out) / 'result.json'}")
        artifacts.save_config(cfg, work)
        stats = result["statistics"]
        # The GX result carries run ids and times; downstream stages depend on this file instead,
        # which changes only when the verdict or the validated documents do.
        hashes = "\n".join(sorted(corpus["content_hash"].astype(str)))
        gate = {"success": True, "documents": len(corpus), "expectations": stats["evaluated_expectations"],
                "content_sha256": hashlib.sha256(hashes.encode()).hexdigest()}
        (work / "gate.json").write_text(json.dumps(gate, indent=2) + "\n")
    log.info("validate: %d/%d expectations passed on %d documents in %d batches", stats["successful_expectations"],
             stats["evaluated_expectations"], len(corpus), result["meta"]["batches"])
    return {
        "success": True,
        "documents": len(corpus),
        "expectations": stats["evaluated_expectations"],
        "passed": stats["successful_expectations"],
        "result": f"{cfg.validation}/result.json",
    }


# What a GX result records about the run rather than the documents: ids made per run and clock
# times. GX's own copy keeps them (gx/uncommitted/validations/, outside DVC's hash: .dvcignore).
RUN_FIELDS = ("validation_id", "checkpoint_id", "run_id", "validation_time")


def run_independent(result: dict) -> dict:
    """The GX result without its run ids and times: result.json then hashes the same in every
    clone and rerun that validates the same documents."""
    meta = {k: v for k, v in result.get("meta", {}).items() if k not in RUN_FIELDS}
    if "batch_markers" in meta:
        meta["batch_markers"] = {k: v for k, v in meta["batch_markers"].items() if k != "ge_load_time"}
    results = [{**r, "expectation_config": {k: v for k, v in r["expectation_config"].items() if k != "id"}}
               for r in result.get("results", [])]
    return {**{k: v for k, v in result.items() if k != "id"}, "results": results, "meta": meta}


def _describe(result: dict) -> str:
    cfg = result["expectation_config"]
    column = cfg["kwargs"].get("column")
    unexpected = result.get("result", {}).get("unexpected_count")
    where = f"[{column}]" if column else ""
    return f"{cfg['type']}{where}" + (f": {unexpected} rows" if unexpected else "")
