"""A DVC remote round trip: push every artifact, then in a fresh clone `dvc pull` and
`dvc repro` recompute nothing."""
import subprocess

import pytest

from conftest import sh

pytestmark = pytest.mark.slow
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]


def test_push_then_pull_in_a_fresh_clone_recomputes_nothing(tiny_repro, tmp_path):
    remote = tmp_path / "remote"
    sh(["dvc", "remote", "add", "-f", "-d", "store", str(remote)], tiny_repro)
    sh(["git", "add", "-A"], tiny_repro)
    sh([*GIT, "commit", "-qm", "pipeline outputs", "--allow-empty"], tiny_repro)
    sh(["dvc", "push"], tiny_repro)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(tiny_repro), str(clone)], check=True)
    assert not (clone / "data" / "model").exists()
    sh(["dvc", "pull"], clone)
    assert (clone / "data" / "model" / "model.safetensors").exists()
    status = sh(["dvc", "status"], clone).stdout
    out = sh(["dvc", "repro"], clone).stdout
    assert "Running stage" not in out, status + out
    assert "up to date" in sh(["dvc", "status"], clone).stdout
