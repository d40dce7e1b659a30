"""The flows' DVC driver (flows/dvc_repro.py) on a real DVC project of one stage, and the plan
of the repo's own dvc.yaml. The whole pipeline through a flow: tests/test_e2e.py and
tests/test_prefect_server.py."""
import subprocess

import pytest

from conftest import REPO, project_env
from flows import dvc_repro
from flows.lmpipe_flow import check_profile, upstream_outs
from pipeline.errors import ConfigError


def test_plan_is_what_dvc_repro_of_the_targets_reaches_in_pipeline_order():
    names = [s.name for s in dvc_repro.plan(["ner"], REPO)]
    assert names == ["fetch", "ingest", "curate", "validate", "tokenizer", "pretrain", "ner"]
    steps = dvc_repro.plan(["report"], REPO)
    assert [s.name for s in steps][-1] == "report" and len(steps) == 12
    producers = {out: s.name for s in steps for out in s.outs}
    pretrain = next(s for s in steps if s.name == "pretrain")
    assert pretrain.outs == ("data/model",)  # metrics and plots are cache: false, not assets
    assert upstream_outs(pretrain, producers) == ["data/tokenizer", "data/tokens"]
    with pytest.raises(ConfigError, match="^nonsense: not a stage of dvc.yaml"):
        dvc_repro.plan(["nonsense"], REPO)


@pytest.fixture
def one_stage_project(tmp_path):
    env = project_env(tmp_path)
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=tmp_path, env=env, check=True)
    (tmp_path / "params.yaml").write_text("n: 1\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  count:\n    cmd: python -c \"import yaml; n = yaml.safe_load(open('params.yaml'))['n'];"
        " assert n > 0, 'n must be positive'; open('out.txt', 'w').write(str(n))\"\n"
        "    params: [n]\n    outs: [out.txt]\n")
    return tmp_path


def test_repro_runs_a_changed_stage_and_skips_an_unchanged_one(one_stage_project):
    lines = []
    assert dvc_repro.repro("count", lines.append, one_stage_project) is True
    assert (one_stage_project / "out.txt").read_text() == "1"
    assert dvc_repro.locked_outs("count", one_stage_project)["out.txt"]  # DVC wrote dvc.lock
    assert dvc_repro.repro("count", lines.append, one_stage_project) is False
    assert any("Running stage 'count'" in line for line in lines)


def test_a_failing_stage_is_one_line_with_dvcs_error(one_stage_project):
    (one_stage_project / "params.yaml").write_text("n: -1\n")
    with pytest.raises(dvc_repro.StageFailed) as err:
        dvc_repro.repro("count", lambda line: None, one_stage_project)
    message = str(err.value)
    assert "\n" not in message
    assert message == "count: `dvc repro --single-item count` exited 255: AssertionError: n must be positive"
    assert not (one_stage_project / "dvc.lock").exists()


def test_a_profile_other_than_params_yaml_is_refused_and_nothing_is_written(monkeypatch):
    monkeypatch.setenv("LMPIPE_ROOT", str(REPO))
    before = (REPO / "params.yaml").read_text()
    current = before.split("\nprofile: ", 1)[1].split()[0]
    check_profile(current)  # the checkout's own profile is fine
    other = "tiny" if current != "tiny" else "default"
    with pytest.raises(ConfigError, match=f"^profile: '{other}' asked, params.yaml is on '{current}'"):
        check_profile(other)
    with pytest.raises(ConfigError, match="^profile: unknown profile 'huge'"):
        check_profile("huge")
    assert (REPO / "params.yaml").read_text() == before
