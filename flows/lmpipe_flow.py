"""The lmpipe flows (not named pipeline.py: Prefect puts flows/ on sys.path when it loads a
deployment, and that name would shadow the `pipeline` package): one task per stage, calling
the same `run_stage` as `lmpipe <stage>`.

    python -m flows.lmpipe_flow [--profile NAME] [STAGE ...]

`lmpipe` runs every stage; `lmpipe-data`, `lmpipe-model` and `lmpipe-eval` run the stage groups.
In a DVC project (the default), each task asks DVC whether its stage is up to date, skips it if
so, and records its outputs with `dvc commit` otherwise (see flows/dvc_sync.py).
"""
from __future__ import annotations

import json
import re

from prefect import flow, get_run_logger, task
from prefect.tasks import exponential_backoff

from flows import artifacts, dvc_sync
from pipeline import stages
from pipeline.artifacts import metrics_path
from pipeline.config import load_params, resolve_path
from pipeline.errors import ConfigError
from pipeline.runner import run_stage

DATA_STAGES = ["fetch", "ingest", "curate", "validate"]
MODEL_STAGES = ["tokenizer", "pretrain"]
EVAL_STAGES = ["finetune", "ner", "qa", "summarization", "translation", "report"]
# Downloads can fail transiently; the compute stages fail for reasons a retry does not fix.
RETRIES = {"fetch": 2, "ingest": 2}


@task(retry_delay_seconds=exponential_backoff(backoff_factor=10))
def run_stage_task(stage: str, overrides: list[str], use_dvc: bool) -> dict:
    logger = get_run_logger()
    if use_dvc:
        changes = dvc_sync.stage_changes(stage)
        if not changes:
            logger.info("%s is up to date in DVC; skipped", stage)
            path = metrics_path(stage)
            metrics = json.loads(path.read_text()) if path.exists() else {}
            artifacts.publish(stage, metrics)  # the UI shows the current outputs either way
            return {"skipped": True, **metrics}
        logger.info("%s changed: %s", stage, changes)
    metrics = run_stage(stage, overrides)
    if use_dvc:
        dvc_sync.commit(stage)
    artifacts.publish(stage, metrics)
    return metrics


def set_profile(profile: str) -> None:
    """Make `profile` the one params.yaml names, as `dvc exp run -S profile=...` would, so DVC
    tracks the profile the run used. Comments in params.yaml are kept."""
    path = resolve_path("params.yaml")
    load_params(path, {"profile": profile})  # unknown profile -> ConfigError before any edit
    text = path.read_text()
    new, count = re.subn(r"(?m)^profile:.*$", f"profile: {profile}", text, count=1)
    if count == 0:
        raise ConfigError(f"{path}: no top-level `profile:` line to set")
    if new != text:
        path.write_text(new)


def _run(stage_names: list[str], profile: str | None, overrides: list[str] | None) -> dict:
    if profile:
        set_profile(profile)
    use_dvc = dvc_sync.is_dvc_project()
    if use_dvc and overrides:
        # dvc.lock must describe what produced the outputs; one-off overrides would break that.
        raise ConfigError("overrides: not allowed in a DVC project; change params.yaml or the profile")
    results = {}
    for name in stage_names:  # sequential: each stage consumes the one before
        stage_task = run_stage_task.with_options(name=name, task_run_name=name,
                                                 retries=RETRIES.get(name, 0))
        results[name] = stage_task(name, list(overrides or []), use_dvc)
    return results


@flow(name="lmpipe", log_prints=True)
def lmpipe(stages_to_run: list[str] | None = None, profile: str | None = None,
           overrides: list[str] | None = None) -> dict:
    """The whole pipeline (or the listed stages, in pipeline order)."""
    unknown = sorted(set(stages_to_run or []) - set(stages.STAGES))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown stage (known: {', '.join(stages.STAGES)})")
    ordered = [s for s in stages.STAGES if stages_to_run is None or s in stages_to_run]
    return _run(ordered, profile, overrides)


@flow(name="lmpipe-data")
def lmpipe_data(profile: str | None = None) -> dict:
    """Ingest, curate and validate the corpus."""
    return _run(DATA_STAGES, profile, None)


@flow(name="lmpipe-model")
def lmpipe_model(profile: str | None = None) -> dict:
    """Train the tokenizer and pretrain the model."""
    return _run(MODEL_STAGES, profile, None)


@flow(name="lmpipe-eval")
def lmpipe_eval(profile: str | None = None) -> dict:
    """Fine-tune on GLUE and the four applications, then write the report."""
    return _run(EVAL_STAGES, profile, None)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m flows.lmpipe_flow", description="Run the lmpipe flow.")
    parser.add_argument("stages", nargs="*", help="stages to run (default: all)")
    parser.add_argument("--profile", default=None, help="profile to switch params.yaml to first")
    args = parser.parse_args()
    lmpipe(stages_to_run=args.stages or None, profile=args.profile)
