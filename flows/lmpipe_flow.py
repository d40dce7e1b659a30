"""The lmpipe flows (not named pipeline.py: Prefect puts flows/ on sys.path when it loads a
deployment, and that name would shadow the `pipeline` package): one task per DVC stage, each
`dvc repro --single-item <stage>` (flows/dvc_repro.py), so a flow run and `dvc repro` leave the
repository the same by construction.

    python -m flows.lmpipe_flow [--profile NAME] [STAGE ...]

`lmpipe` reproduces every stage (or the listed ones and what they depend on); `lmpipe-data`,
`lmpipe-model` and `lmpipe-eval` the stage groups, each with any stale upstream stage first.
Every task materialises its stage's cached outputs as Prefect assets, with their DVC hash and
the stage's key metrics, and the upstream outputs it read as asset dependencies: the UI's
lineage shows which corpus, tokenizer and checkpoint a GLUE table came from.
"""
from __future__ import annotations

import json

from prefect import flow, get_run_logger
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.tasks import exponential_backoff

from flows import artifacts, dvc_repro
from pipeline import stages
from pipeline.artifacts import metrics_path
from pipeline.config import load_params
from pipeline.env import project_root
from pipeline.errors import ConfigError, PipelineError

DATA_STAGES = ["fetch", "ingest", "curate", "validate"]
MODEL_STAGES = ["tokenizer", "pretrain"]
EVAL_STAGES = ["finetune", "ner", "qa", "summarization", "translation", "report"]
# Downloads can fail transiently; the compute stages fail for reasons a retry does not fix.
RETRIES = {"fetch": 2, "ingest": 2}


def asset_key(path: str) -> str:
    """A stage output as a Prefect asset: its file URI in this checkout."""
    return (project_root() / path).resolve().as_uri()


def upstream_outs(step: dvc_repro.StagePlan, producers: dict[str, str]) -> list[str]:
    """The cached outputs of other stages that `step` depends on (a dep inside an out counts)."""
    return sorted({out for dep in step.deps for out in producers
                   if producers[out] != step.name and (dep == out or dep.startswith(out.rstrip("/") + "/"))})


def key_metrics(metrics: dict) -> dict:
    """The stage's scalar metrics, two levels deep, without the cost block: asset metadata."""
    return {row["metric"]: row["value"] for row in artifacts.flat(metrics)
            if row["metric"].count(".") <= 1 and not row["metric"].startswith("cost.")}


def reproduce(step: dvc_repro.StagePlan) -> dict:
    logger = get_run_logger()
    ran = dvc_repro.repro(step.name, logger.info)
    logger.info("%s: %s", step.name, "reproduced by DVC" if ran else "up to date in DVC; skipped")
    path = metrics_path(step.name)
    metrics = json.loads(path.read_text()) if path.exists() else {}
    hashes = dvc_repro.locked_outs(step.name)
    for out in step.outs:
        add_asset_metadata(asset_key(out), {"stage": step.name, "dvc_hash": hashes.get(out),
                                            "reproduced": ran, **key_metrics(metrics)})
    artifacts.publish(step.name, metrics)  # the UI shows the current outputs either way
    return {"reproduced": ran, **metrics}


def stage_task(step: dvc_repro.StagePlan, producers: dict[str, str]):
    outs = [Asset(key=asset_key(out), properties=AssetProperties(
        name=out, description=f"output of the DVC stage `{step.name}`")) for out in step.outs]
    return materialize(*outs, by="dvc", asset_deps=[asset_key(o) for o in upstream_outs(step, producers)],
                       name=step.name, task_run_name=step.name, retries=RETRIES.get(step.name, 0),
                       retry_delay_seconds=exponential_backoff(backoff_factor=10))(reproduce)


def check_profile(profile: str | None) -> None:
    """A flow never edits a tracked file: a profile other than params.yaml's is refused."""
    if profile is None:
        return
    load_params(overrides={"profile": profile})  # an unknown profile: its own one-line error
    current = load_params()["profile"]
    if profile != current:
        raise ConfigError(f"profile: {profile!r} asked, params.yaml is on {current!r}; a flow does not "
                          f"edit tracked files: set `profile: {profile}` in params.yaml and commit it, "
                          f"or run `dvc exp run -S profile={profile}`")


def _run(targets: list[str], profile: str | None) -> dict:
    check_profile(profile)
    if not dvc_repro.is_dvc_project():
        raise ConfigError(f"{project_root()}: not a DVC project (no .dvc/ or dvc.yaml); run `dvc init`")
    with dvc_repro.flow_lock():
        steps = dvc_repro.plan(targets)
        producers = {out: step.name for step in steps for out in step.outs}
        # sequential: DVC's order, each stage after those it reads
        return {step.name: stage_task(step, producers)(step) for step in steps}


@flow(name="lmpipe", log_prints=True)
def lmpipe(stages_to_run: list[str] | None = None, profile: str | None = None) -> dict:
    """The whole pipeline, or the listed stages and every stage they depend on."""
    unknown = sorted(set(stages_to_run or []) - set(stages.STAGES))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown stage (known: {', '.join(stages.STAGES)})")
    return _run(list(stages_to_run or stages.STAGES), profile)


@flow(name="lmpipe-data")
def lmpipe_data(profile: str | None = None) -> dict:
    """Ingest, curate and validate the corpus."""
    return _run(DATA_STAGES, profile)


@flow(name="lmpipe-model")
def lmpipe_model(profile: str | None = None) -> dict:
    """Train the tokenizer and pretrain the model (after any stale data stage)."""
    return _run(MODEL_STAGES, profile)


@flow(name="lmpipe-eval")
def lmpipe_eval(profile: str | None = None) -> dict:
    """Fine-tune on GLUE and the four applications, then the report (after any stale stage)."""
    return _run(EVAL_STAGES, profile)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m flows.lmpipe_flow", description="Run the lmpipe flow.")
    parser.add_argument("stages", nargs="*", help="stages to run (default: all)")
    parser.add_argument("--profile", default=None, help="the profile params.yaml must be on (checked, never set)")
    args = parser.parse_args()
    try:
        lmpipe(stages_to_run=args.stages or None, profile=args.profile)
    except PipelineError as exc:  # Prefect has logged the traceback; the console gets one line
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
