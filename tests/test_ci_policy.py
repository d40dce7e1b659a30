"""CI=true turns a skip into a failure (conftest.py), so CI cannot pass with ../shared missing."""
import os
import subprocess
import sys

from conftest import REPO


def run_pytest(tmp_path, ci: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_needs_data.py").write_text(
        "import pytest\n\ndef test_needs_data():\n    pytest.skip('shared data not found')\n")
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    env = {**os.environ, "CI": ci}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_skip_fails_under_ci(tmp_path):
    proc = run_pytest(tmp_path, "true")
    assert proc.returncode == 1 and "skipped under CI=true: Skipped: shared data not found" in proc.stdout


def test_skip_is_a_skip_elsewhere(tmp_path):
    proc = run_pytest(tmp_path, "")
    assert proc.returncode == 0 and "1 skipped" in proc.stdout
