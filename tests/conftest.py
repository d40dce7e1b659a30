import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# In CI (CI=true) a skipped test is a failure: CI runs where ../shared is laid out and every
# dependency is installed, so a skip there means something set-up should provide is missing.
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome, report.longrepr = "failed", f"skipped under CI=true: {reason}"


def shared_data_dir() -> Path:
    return Path(os.environ.get("LMPIPE_DATA") or REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample data beside the repo (../shared/data or LMPIPE_DATA); skip when absent."""
    path = shared_data_dir()
    if not (path / "README.md").exists():
        pytest.skip(f"shared data not found at {path} (set LMPIPE_DATA)")
    return path


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A scratch project root: relative artifact paths and metrics/ land under tmp_path."""
    monkeypatch.setenv("LMPIPE_ROOT", str(tmp_path))
    return tmp_path


VENV_BIN = Path(sys.executable).parent


def make_project_copy(dest: Path, data_root: Path, profile: str = "tiny") -> Path:
    """A fresh git+DVC checkout of the working tree (tracked and untracked, not ignored files),
    on `profile`, with data_root pointing at the shared data."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    params = dest / "params.yaml"
    text = params.read_text()
    text = re.sub(r"(?m)^profile:.*$", f"profile: {profile}", text)
    text = re.sub(r"(?m)^data_root:.*$", f"data_root: {data_root}", text)
    params.write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)
    return dest


def project_env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMPIPE_ROOT", "PREFECT_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def sh(cmd: list[str], root: Path, timeout: float = 600, check: bool = True, env: dict | None = None):
    proc = subprocess.run(cmd, cwd=root, env=env or project_env(root), capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_repro(tmp_path_factory, shared_data) -> Path:
    """The tiny profile reproduced once with `dvc repro` in a fresh copy; shared by e2e tests."""
    root = make_project_copy(tmp_path_factory.mktemp("tiny"), shared_data)
    sh(["dvc", "repro"], root, timeout=900)
    return root
