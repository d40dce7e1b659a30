"""Every stage killed with SIGKILL midway leaves no output that looks complete, and its rerun
finishes with the same content as an uninterrupted run.

On a copy of the tiny profile's `dvc repro` (tiny_repro), each stage's outputs are removed and the
stage is started as `dvc repro` starts it (`python -m pipeline <stage>`, its own process group).
When its partial directory shows it midway (a datatrove job's completion marker, a finished
fine-tuning task), the whole group is killed; where that moment is too short to catch, the stage
kills itself with SIGKILL at a named function. Then:
  - the output path does not exist, and the partial directory does;
  - the rerun exits 0 and, where the stage resumes, says that it skipped the finished work;
  - `dvc commit` of the rerun records the same hash for every cached output as the
    uninterrupted run's dvc.lock: the content is identical, byte for byte.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import project_env, sh
from flows.dvc_repro import locked_outs, plan

pytestmark = pytest.mark.slow

# stage: (its outputs, removed before the run; the one the kill lands in, which must not exist
# afterwards; what in its partial dir shows the stage midway; what the rerun logs when it resumes,
# None where the stage restarts by design, having no resumable unit). "module:function": the
# stage SIGKILLs itself on entering it, where a poll could miss the moment: the tokenizer encodes
# the tiny corpus faster than a poll saw its partial dir (a CI run), and ingest's two tasks end
# together, so it dies after datatrove and before collecting their reports. The tokenizer's
# tokenizer/ is then already complete (renamed into place) and stays.
MIDWAY = {
    "ingest": (["data/docs"], "data/docs", "pipeline.ingest.stage:collect_reports",
               "already been completed"),
    "curate": (["data/curated"], "data/curated", "data/curated.partial/logs/*/completions/*",
               "already complete"),
    "tokenizer": (["data/tokenizer", "data/tokens"], "data/tokens", "pipeline.tokenizer.encode:encode_corpus", None),
    "finetune": (["data/finetune"], "data/finetune", "data/finetune.partial/pipeline/*.json",
                 "reusing the result"),
}


@pytest.fixture(scope="module")
def repo(tiny_repro, tmp_path_factory) -> Path:
    """A copy of the finished tiny run to kill stages in; the cache stays with the original."""
    root = tmp_path_factory.mktemp("killed") / "repo"
    shutil.copytree(tiny_repro, root, symlinks=True, ignore=shutil.ignore_patterns("cache", "tmp"))
    return root


# `python -m pipeline <stage>`, killing itself with SIGKILL on entering module:function
SELF_KILL = """import importlib, os, runpy, signal, sys
module, function = sys.argv.pop(1).split(":")
mod = importlib.import_module(module)
def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
setattr(mod, function, killed)
sys.argv[0] = "pipeline"
runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
"""


def start(stage: str, root: Path, kill_at: str | None = None) -> subprocess.Popen:
    cmd = ["-c", SELF_KILL, kill_at, stage] if kill_at else ["-m", "pipeline", stage]
    return subprocess.Popen([sys.executable, *cmd], cwd=root, env=project_env(root),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill_when(proc: subprocess.Popen, root: Path, pattern: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not any(root.glob(pattern)):
        if proc.poll() is not None:
            raise AssertionError(f"the stage ended (rc {proc.returncode}) before {pattern} appeared")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"timed out waiting for {pattern}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the stage and every worker it started
    proc.wait()


@pytest.mark.parametrize("stage", list(MIDWAY))
def test_killed_midway_leaves_nothing_complete_and_resumes(repo, stage):
    outs, killed, midway, resumed = MIDWAY[stage]
    cached = {p for step in plan([stage], repo) if step.name == stage for p in step.outs}
    expected = {p: h for p, h in locked_outs(stage, repo).items() if p in cached}
    assert expected, f"{stage}: no cached outputs in dvc.lock"
    for out in outs:
        shutil.rmtree(repo / out)

    if ":" in midway:
        proc = start(stage, repo, kill_at=midway)
        assert proc.wait(timeout=300) == -signal.SIGKILL, f"{stage}: did not reach {midway}"
    else:
        kill_when(start(stage, repo), repo, midway)
    assert not (repo / killed).exists(), f"{stage}: {killed} exists after a kill midway"
    assert (repo / f"{killed}.partial").is_dir()

    rerun = sh([sys.executable, "-m", "pipeline", stage], repo)
    if resumed:
        assert resumed in rerun.stdout + rerun.stderr, f"{stage}: the rerun did not resume"
    assert not list(repo.glob("data/*.partial")), f"{stage}: a partial dir is left after the rerun"
    sh(["dvc", "commit", "--force", stage], repo)
    got = {p: h for p, h in locked_outs(stage, repo).items() if p in cached}
    assert got == expected, f"{stage}: the resumed run's outputs differ from an uninterrupted run's"
