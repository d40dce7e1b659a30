"""One truth with DVC: a Prefect run decides and records exactly as `dvc repro` would.

Before a stage runs, DVC's own status check says whether it is up to date (same code, params
and upstream outputs as recorded in dvc.lock); an up-to-date stage is skipped. After a stage
runs, `dvc commit` hashes its outputs into the DVC cache and writes dvc.lock -- the bookkeeping
`dvc repro` does after running the stage command. The stage itself runs in-process through the
same `pipeline.runner.run_stage` the `lmpipe` CLI in dvc.yaml's `cmd` calls.
"""
from __future__ import annotations

from pipeline.env import project_root


def is_dvc_project() -> bool:
    root = project_root()
    return (root / ".dvc").is_dir() and (root / "dvc.yaml").exists()


def _repo():
    from dvc.repo import Repo

    return Repo(str(project_root()))


def stage_changes(stage: str) -> list:
    """DVC's reasons `stage` would rerun (empty when up to date)."""
    with _repo() as repo:
        status = repo.status(targets=[stage])
    return status.get(stage, [])


def commit(stage: str) -> None:
    """Record `stage`'s outputs in the DVC cache and dvc.lock, as `dvc repro` does after running it."""
    with _repo() as repo:
        repo.commit(stage, force=True)

