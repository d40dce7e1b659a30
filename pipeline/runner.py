"""Run one stage from params: the single entry point shared by the CLI and the Prefect tasks."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from pipeline import config as configlib
from pipeline import cost
from pipeline import stages
from pipeline.artifacts import metrics_path, write_json
from pipeline.env import cpu_model
from pipeline.errors import ConfigError

log = logging.getLogger("lmpipe")


def resolve_config(stage: str, overrides: list[str] | dict | None = None,
                   params_path: str | Path | None = None) -> Any:
    return _stage_config(stage, _params(overrides, params_path))


def _params(overrides: list[str] | dict | None, params_path: str | Path | None) -> dict:
    if isinstance(overrides, list):
        overrides = configlib.parse_overrides(overrides)
    return configlib.load_params(params_path, overrides)


def _stage_config(stage: str, params: dict) -> Any:
    if stage not in stages.STAGES:
        raise ConfigError(f"{stage}: unknown stage (known: {', '.join(stages.STAGES)})")
    return configlib.stage_config(stage, stages.load(stage).Config, params)


def run_stage(stage: str, overrides: list[str] | dict | None = None,
              params_path: str | Path | None = None) -> dict:
    """Resolve the stage's config, run it, write metrics/<stage>.json, return the metrics.
    metrics["cost"] is the run's compute and energy (pipeline/cost.py); a stage's own "flops"
    moves there."""
    params = _params(overrides, params_path)
    cfg, cost_cfg = _stage_config(stage, params), configlib.cost_config(params)
    with cost.track(cost_cfg) as usage:
        metrics = dict(stages.load(stage).run(cfg))
    flops = metrics.pop("flops", None)
    metrics = {**metrics, "wall_time_s": round(usage.wall_time_s, 2), "cpu": cpu_model(),
               "cost": usage.figures(flops)}
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one process reports
        write_json(metrics_path(stage), metrics)
    log.info("%s done in %.1fs, %.3g kWh -> %s", stage, metrics["wall_time_s"], usage.energy_kwh or 0.0,
             metrics_path(stage))
    return metrics
