"""The one resume mechanism (pipeline/artifacts.py): what a killed run's partial dir is kept for."""
import pytest

from pipeline.artifacts import RESUME_KEY, atomic_dir, reusable, save_result


class Killed(Exception):
    pass


def _kill_inside(out, **kw):
    with pytest.raises(Killed):
        with atomic_dir(out, **kw) as work:
            (work / "half.txt").write_text("done before the kill")
            raise Killed


def test_a_killed_run_leaves_only_the_partial_dir(tmp_path):
    out = tmp_path / "out"
    _kill_inside(out, key="a")
    assert not out.exists() and (tmp_path / "out.partial" / "half.txt").exists()


def test_the_same_key_resumes_and_the_output_holds_no_key(tmp_path):
    out = tmp_path / "out"
    _kill_inside(out, key="a")
    with atomic_dir(out, key="a") as work:
        assert (work / "half.txt").read_text() == "done before the kill"
    assert sorted(p.name for p in out.iterdir()) == ["half.txt"]  # RESUME_KEY removed
    assert not (tmp_path / "out.partial").exists()


@pytest.mark.parametrize("again", [{"key": "b"}, {"key": "a", "resume": False}])
def test_another_key_or_no_resume_starts_empty(tmp_path, again):
    out = tmp_path / "out"
    _kill_inside(out, key="a")
    with atomic_dir(out, **again) as work:
        assert not (work / "half.txt").exists()
        assert (work / RESUME_KEY).exists() == ("key" in again)


def test_a_partial_without_a_key_is_not_resumed_under_one(tmp_path):
    out = tmp_path / "out"
    _kill_inside(out)  # e.g. left by an older version, before keys
    with atomic_dir(out, key="a") as work:
        assert not (work / "half.txt").exists()


def test_a_unit_result_is_reused_only_under_its_key(tmp_path):
    done = tmp_path / "unit.json"
    assert reusable(done, "k") is None
    save_result(done, "k", {"score": 1.5, "time_s": 12.0, "train_time_s": 3.0})
    assert reusable(done, "k") == {"score": 1.5}  # wall times are not part of the cached result
    assert reusable(done, "other") is None
