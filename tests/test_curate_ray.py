"""curate on datatrove's Ray executor, on a local Ray instance the stage starts itself."""
from __future__ import annotations

import pytest

from pipeline import curate
from test_curate import lid_model, make_cfg, read_dir  # noqa: F401  (lid_model is a fixture)

ray = pytest.importorskip("ray", reason="ray is not installed")


def kept_ids_and_steps(tmp_path, monkeypatch, lid_model: str, kind: str, workers: int) -> tuple[set[str], dict]:
    """The kept ids and the funnel (without timings) of one curate run on `kind`."""
    root = tmp_path / kind
    root.mkdir()
    monkeypatch.setenv("LMPIPE_ROOT", str(root))
    (root / "bad.txt").write_text("zorglub\n")
    cfg = make_cfg(root, lid_model, c4_badwords={"path": str(root / "bad.txt")},
                   executor={"kind": kind, "tasks": 2, "workers": workers})
    metrics = curate.run(cfg)
    steps = {name: {k: v for k, v in step.items() if k != "time_s"} for name, step in metrics["steps"].items()}
    return {row["id"] for row in read_dir(root / "curated" / "docs")}, steps


@pytest.mark.slow
def test_ray_executor_gives_the_local_executors_output(tmp_path, monkeypatch, lid_model):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    local_ids, local_steps = kept_ids_and_steps(tmp_path, monkeypatch, lid_model, "local", workers=1)
    # Every Ray task starts its own actor process (~2 s each, 28 tasks with 14 MinHash buckets):
    # two at once halves that; how many run at once must not change the output.
    ray_ids, ray_steps = kept_ids_and_steps(tmp_path, monkeypatch, lid_model, "ray", workers=2)
    assert ray_ids == local_ids and len(local_ids) == 13  # the 12 English pages and the anonymised one
    assert ray_steps == local_steps
    assert not ray.is_initialized()  # the stage stopped the instance it started
