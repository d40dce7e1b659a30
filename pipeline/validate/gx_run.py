"""Running the suite in a file-backed GX context under the output directory."""
from __future__ import annotations

from pathlib import Path

import great_expectations as gx
import pandas as pd

from pipeline.validate.suite import curated_docs_suite


def validate_dataframe(df: pd.DataFrame, cfg, work: Path) -> dict:
    """Validate `df` with the curated-docs suite; returns the GX result as a JSON-able dict."""
    context = gx.get_context(mode="file", project_root_dir=str(work))
    source = context.data_sources.add_pandas("curated")
    batch = source.add_dataframe_asset("docs").add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(curated_docs_suite("curated_docs", cfg.languages, cfg.min_chars, cfg.max_chars,
                                                  cfg.min_rows))
    definition = context.validation_definitions.add(gx.ValidationDefinition(name="curated_docs", data=batch,
                                                                            suite=suite))
    actions = [gx.checkpoint.UpdateDataDocsAction(name="data_docs")] if cfg.data_docs else []
    checkpoint = context.checkpoints.add(gx.Checkpoint(name="curated_docs", validation_definitions=[definition],
                                                       actions=actions, result_format="SUMMARY"))
    run = checkpoint.run(batch_parameters={"dataframe": df})
    (result,) = run.run_results.values()
    return result.to_json_dict()
