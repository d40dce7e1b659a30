"""Running the suites batch by batch in a file-backed GX context under the output directory.

Each batch of rows is one run of the same ValidationDefinition on a GX dataframe asset (the
frame is the batch parameter of a whole-dataframe batch definition), and so is the final frame
of `CORPUS_COLUMNS` for the corpus-wide expectations. Not GX's pandas filesystem (parquet)
asset with a batch per file: `content_hash` is derived (curate's normalize), not stored, and a
file batch is a whole shard, sized by curate; record batches of `batch_size` rows keep memory
to validate's own parameter. GX stores each run's result; Data Docs are built once at the end
(an UpdateDataDocsAction on every run would rebuild the whole site once per batch).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import great_expectations as gx
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig

from pipeline.validate.suite import CORPUS_COLUMNS, SUITE, corpus_suite, rows_suite

RESULT_FORMAT = "SUMMARY"
COUNTS = ("element_count", "missing_count", "unexpected_count")


def validate_batches(batches: Iterable[pd.DataFrame], cfg, work: Path) -> tuple[dict, pd.DataFrame]:
    """Validate every batch, then the corpus; returns the merged GX result (a JSON-able dict) and
    the corpus frame of `CORPUS_COLUMNS`."""
    context = gx.get_context(mode="file", project_root_dir=str(work))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # not one bar per batch in the log
    source = context.data_sources.add_pandas("curated")

    def definition(name: str, suite: gx.ExpectationSuite) -> gx.ValidationDefinition:
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        return context.validation_definitions.add(gx.ValidationDefinition(
            name=name, data=batch, suite=context.suites.add(suite)))

    def run(what: gx.ValidationDefinition, df: pd.DataFrame, run_name: str) -> dict:
        return what.run(batch_parameters={"dataframe": df}, result_format=RESULT_FORMAT,
                        run_id=RunIdentifier(run_name=run_name)).to_json_dict()

    rows = definition(f"{SUITE}_rows", rows_suite(f"{SUITE}_rows", cfg.languages, cfg.min_chars, cfg.max_chars))
    corpus = definition(f"{SUITE}_corpus", corpus_suite(f"{SUITE}_corpus", cfg.min_rows))
    merged, keys = None, []
    for i, df in enumerate(batches):
        merged = merge(merged, run(rows, df, f"batch-{i:05d}"))
        # reindex: a batch without the column (already failing the schema expectation) adds nulls
        keys.append(df.reindex(columns=CORPUS_COLUMNS))
    batch_count = len(keys)
    keys = pd.concat(keys, ignore_index=True)
    merged = merge(merged, run(corpus, keys, "corpus"))
    merged["suite_name"], merged["meta"]["batches"] = SUITE, batch_count
    if cfg.data_docs:
        context.build_data_docs()
    return merged, keys


def merge(total: dict | None, part: dict) -> dict:
    """Fold one GX suite result into the running total. An expectation already there (the same
    suite on another batch) gets its success ANDed, its row counts summed and its percentages
    recomputed; the rest of its result (partial_unexpected_list, observed_value, exception_info)
    is the first failing batch's. New expectations are appended."""
    if total is None:
        return part
    results = {r["expectation_config"]["id"]: r for r in total["results"]}
    for new in part["results"]:
        key = new["expectation_config"]["id"]
        results[key] = _fold(results[key], new) if key in results else new
    merged = list(results.values())
    passed = sum(r["success"] for r in merged)
    return {**total, "success": passed == len(merged), "results": merged, "statistics": {
        "evaluated_expectations": len(merged), "successful_expectations": passed,
        "unsuccessful_expectations": len(merged) - passed, "success_percent": 100 * passed / len(merged)}}


def _fold(seen: dict, new: dict) -> dict:
    base = new if seen["success"] and not new["success"] else seen
    counts = {k: seen["result"].get(k, 0) + new["result"].get(k, 0) for k in COUNTS if k in base["result"]}
    return {**base, "success": seen["success"] and new["success"],
            "result": {**base["result"], **counts, **_percentages(counts, base["result"])}}


def _percentages(counts: dict, keys) -> dict:
    """GX's map-expectation percentages (great_expectations/expectations/expectation.py
    _format_map_output), for the summed counts."""
    def pct(numerator: str, denominator: int):
        return 100 * counts[numerator] / denominator if denominator and numerator in counts else None

    elements = counts.get("element_count", 0)
    nonmissing = elements - counts.get("missing_count", 0)
    out = {"missing_percent": pct("missing_count", elements),
           "unexpected_percent": pct("unexpected_count", nonmissing),
           "unexpected_percent_total": pct("unexpected_count", elements),
           "unexpected_percent_nonmissing": pct("unexpected_count", nonmissing)}
    return {k: v for k, v in out.items() if k in keys}
