"""End to end on the tiny profile: `dvc repro` through the CLI, then the Prefect flow."""
import json
import re
import shutil

import pytest
import yaml

from conftest import project_env, sh
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
    report = (tiny_repro / "data" / "report_card" / "report.md").read_text()
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


def stages_rerun_after_one_more_epoch(tiny_repro, copy, section: str) -> list[str]:
    """`<section>.train.epochs` + 1, then `dvc repro`, in a copy of the reproduced project (the
    other tests share it as it is): the stages it ran."""
    shutil.copytree(tiny_repro, copy, symlinks=True)
    params = copy / "params.yaml"
    values = yaml.safe_load(params.read_text())
    values[section]["train"]["epochs"] += 1
    params.write_text(yaml.safe_dump(values, sort_keys=False))
    out = sh(["dvc", "repro"], copy).stdout
    return re.findall(r"Running stage '([^']+)'", out)


def test_changing_a_finetune_param_reruns_only_finetune_and_report(tiny_repro, tmp_path):
    assert stages_rerun_after_one_more_epoch(tiny_repro, tmp_path / "copy", "finetune") == ["finetune", "report"]


def test_changing_an_application_param_reruns_only_it_and_report(tiny_repro, tmp_path):
    assert stages_rerun_after_one_more_epoch(tiny_repro, tmp_path / "copy", "ner") == ["ner", "report"]


def test_a_flow_reruns_a_stale_upstream_stage_as_dvc_repro_does(tmp_path, tiny_repro):
    """`lmpipe-model` (tokenizer, pretrain) after a validate param changed, in a copy of the
    reproduced project: DVC reruns validate, upstream of the group, and then leaves tokenizer and
    pretrain, whose inputs hash as before (validate's gate.json does not record min_rows)."""
    root = tmp_path / "copy"
    shutil.copytree(tiny_repro, root, symlinks=True)
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("  min_rows: 1\n", "  min_rows: 2\n", 1))
    lock_before = (root / "dvc.lock").read_text()
    code = ("import json; from flows.lmpipe_flow import lmpipe_model; "
            "print('RESULT', json.dumps({k: v['reproduced'] for k, v in lmpipe_model().items()}))")
    out = sh(["python", "-c", code], root, timeout=600).stdout
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    assert result == {"fetch": False, "ingest": False, "curate": False, "validate": True,
                      "tokenizer": False, "pretrain": False}, out[-3000:]
    # what the flow covers is up to date (report, outside it, now reads validate's new metrics)
    assert "up to date" in sh(["dvc", "status", "pretrain"], root).stdout
    lock = (root / "dvc.lock").read_text()
    assert lock != lock_before and "min_rows: 2" in lock  # DVC itself recorded the new param
    # Unchanged, a second run reproduces nothing.
    again = sh(["python", "-c", code], root, timeout=600).stdout
    assert set(json.loads(again.split("RESULT ", 1)[1].splitlines()[0]).values()) == {False}


def test_a_second_flow_fails_in_one_line_while_one_runs(tmp_path, tiny_repro):
    """Two flows never interleave their stages: the second one stops at once, naming the lock."""
    import subprocess
    import sys

    root = tmp_path / "copy"
    shutil.copytree(tiny_repro, root, symlinks=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; from flows.dvc_repro import flow_lock\n"
                               "with flow_lock():\n    print('held', flush=True); time.sleep(120)"],
                              cwd=root, env=project_env(root), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = sh(["python", "-m", "flows.lmpipe_flow", "validate"], root, check=False, timeout=300)
    finally:
        holder.kill()
    assert proc.returncode != 0
    assert "lmpipe-flow.lock: another lmpipe flow is running in this repo" in proc.stdout + proc.stderr
    assert (root / "dvc.lock").read_text() == (tiny_repro / "dvc.lock").read_text()
