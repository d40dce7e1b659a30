import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
