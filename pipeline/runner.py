"""Run one stage from params: the single entry point shared by the CLI and the Prefect tasks."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from pipeline import config as configlib
from pipeline import stages
from pipeline.artifacts import metrics_path, write_json
from pipeline.env import cpu_model
from pipeline.errors import ConfigError

log = logging.getLogger("lmpipe")


def resolve_config(stage: str, overrides: list[str] | dict | None = None,
                   params_path: str | Path | None = None) -> Any:
    if stage not in stages.STAGES:
        raise ConfigError(f"{stage}: unknown stage (known: {', '.join(stages.STAGES)})")
    if isinstance(overrides, list):
        overrides = configlib.parse_overrides(overrides)
    params = configlib.load_params(params_path, overrides)
    module = stages.load(stage)
    return configlib.stage_config(stage, module.Config, params)


def run_stage(stage: str, overrides: list[str] | dict | None = None,
              params_path: str | Path | None = None) -> dict:
    """Resolve the stage's config, run it, write metrics/<stage>.json, return the metrics."""
    cfg = resolve_config(stage, overrides, params_path)
    start = time.perf_counter()
    metrics = stages.load(stage).run(cfg)
    metrics = {**metrics, "wall_time_s": round(time.perf_counter() - start, 2), "cpu": cpu_model()}
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one process reports
        write_json(metrics_path(stage), metrics)
    log.info("%s done in %.1fs -> %s", stage, metrics["wall_time_s"], metrics_path(stage))
    return metrics
