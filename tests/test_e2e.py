"""End to end on the tiny profile: `dvc repro` through the CLI, then the Prefect flow."""
import json
import re

import pytest
import yaml

from conftest import make_project_copy, sh
from pipeline.stages import APPLICATIONS, STAGES

pytestmark = pytest.mark.slow
MODEL_STAGES = ("pretrain", "finetune", *APPLICATIONS)  # the stages that do model math


def test_dvc_repro_runs_every_stage_and_writes_metrics(tiny_repro):
    for stage in STAGES:
        metrics = json.loads((tiny_repro / "metrics" / f"{stage}.json").read_text())
        assert metrics["wall_time_s"] >= 0
        cost = metrics["cost"]  # pipeline/cost.py, around every stage
        assert all(cost[k] > 0 for k in ("wall_time_s", "cpu_time_s", "energy_kwh", "co2e_kg")), (stage, cost)
        assert cost["gpu_time_s"] >= 0 and cost["energy_method"].startswith("codecarbon"), (stage, cost)
        if stage in MODEL_STAGES:
            assert cost["flops"] > 0, cost
        else:
            assert cost["flops"] is None, (stage, cost)
    report = (tiny_repro / "data" / "report" / "report.md").read_text()
    assert "## GLUE" in report
    for app in APPLICATIONS:  # each application's table, with a row per model the stage ran
        metrics = json.loads((tiny_repro / "metrics" / f"{app}.json").read_text())
        assert metrics["markdown"].split("\n")[0][2:] in report, app
        assert set(metrics["score"]) == set(metrics["models"]) and len(metrics["models"]) >= 2, metrics
    assert (tiny_repro / "data" / "model" / "model.safetensors").exists()
    # Every stage saved its resolved config beside its output.
    assert (tiny_repro / "data" / "docs" / "config.yaml").exists()
    assert not list(tiny_repro.glob("data/*.partial"))


def test_second_repro_is_up_to_date(tiny_repro):
    out = sh(["dvc", "status"], tiny_repro).stdout
    assert "up to date" in out, out


def test_only_the_active_profile_file_is_a_dependency(tiny_repro):
    """Editing another profile (cpu-1h) reruns nothing; editing the active one (tiny) reruns all."""
    for name, stale in (("cpu-1h", False), ("tiny", True)):
        profile = tiny_repro / "profiles" / f"{name}.yaml"
        original = profile.read_text()
        try:
            profile.write_text(original + "\n# edited\n")
            out = sh(["dvc", "status"], tiny_repro).stdout
            assert ("up to date" not in out) == stale, (name, out)
            if stale:
                assert "profiles/tiny.yaml" in out and "ingest" in out, out
        finally:
            profile.write_text(original)


def stages_rerun_after_one_more_epoch(root, section: str) -> list[str]:
    """`<section>.train.epochs` + 1, then `dvc repro`: the stages it ran. params.yaml and the
    outputs are put back in sync afterwards, for the other tests sharing this project."""
    params = root / "params.yaml"
    original = params.read_text()
    try:
        values = yaml.safe_load(original)
        values[section]["train"]["epochs"] += 1
        params.write_text(yaml.safe_dump(values, sort_keys=False))
        out = sh(["dvc", "repro"], root).stdout
        return re.findall(r"Running stage '([^']+)'", out)
    finally:
        params.write_text(original)
        sh(["dvc", "repro"], root)


def test_changing_a_finetune_param_reruns_only_finetune_and_report(tiny_repro):
    assert stages_rerun_after_one_more_epoch(tiny_repro, "finetune") == ["finetune", "report"]


def test_changing_an_application_param_reruns_only_it_and_report(tiny_repro):
    assert stages_rerun_after_one_more_epoch(tiny_repro, "ner") == ["ner", "report"]


def test_prefect_flow_matches_dvc(tmp_path, shared_data):
    """The flow (ephemeral Prefect, no server) leaves the repo as `dvc repro` would."""
    root = make_project_copy(tmp_path, shared_data)
    code = "from flows.lmpipe_flow import lmpipe; lmpipe()"
    sh(["python", "-c", code], root, timeout=900)
    assert "up to date" in sh(["dvc", "status"], root).stdout
    lock = (root / "dvc.lock").read_text()
    for stage in STAGES:
        assert f"  {stage}:" in lock
    # A second flow run skips every stage: DVC says they are up to date.
    out = sh(["python", "-c", code], root, timeout=300)
    assert out.stdout.count("is up to date in DVC; skipped") + out.stderr.count(
        "is up to date in DVC; skipped") == len(STAGES)
