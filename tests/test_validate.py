"""validate: the Great Expectations gate passes clean curated docs and stops on each defect."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import pipeline  # noqa: F401  (offline, no GX analytics)
from pipeline import validate
from pipeline.config import build
from curate_data import english, write_docs

GOOD = [{"id": f"d{i}", "text": english(i), "source": "web", "url": f"https://site{i}.org/p", "lang": "en"}
        for i in range(5)] + [{"id": "w", "text": english(9), "source": "wiki", "url": None, "lang": "en"}]


def cfg_for(tmp_path, rows):
    write_docs(tmp_path / "curated" / "docs", rows)
    return build(validate.Config, {"curated": str(tmp_path / "curated"),
                                   "validation": str(tmp_path / "validation")}, prefix="validate")


def test_clean_docs_pass_and_write_the_result(tmp_path):
    metrics = validate.run(cfg_for(tmp_path, GOOD))
    assert metrics["success"] and metrics["documents"] == 6 and metrics["passed"] == metrics["expectations"]
    result = json.loads((tmp_path / "validation" / "result.json").read_text())
    assert result["success"] is True
    assert (tmp_path / "validation" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()


@pytest.mark.parametrize("defect, expectation", [
    ({"id": "d0"}, "expect_column_values_to_be_unique[id]"),
    ({"text": "  "}, "expect_column_values_to_not_match_regex[text]"),
    ({"lang": "fr"}, "expect_column_values_to_be_in_set[lang]"),
    ({"url": "ftp:/broken url"}, "expect_column_values_to_match_regex[url]"),
    ({"text": GOOD[1]["text"].upper()}, "expect_column_values_to_be_unique[content_hash]"),
])
def test_each_defect_fails_the_gate_with_its_expectation(tmp_path, defect, expectation):
    rows = GOOD[:-1] + [{**GOOD[-1], **defect}]
    with pytest.raises(validate.ValidationFailed) as err:
        validate.run(cfg_for(tmp_path, rows))
    message = str(err.value)
    assert expectation in message and "\n" not in message
    assert str(tmp_path / "validation.partial" / "result.json") in message
    assert not (tmp_path / "validation").exists()  # nothing DVC could take as complete


def test_cli_exits_non_zero_with_one_line(tmp_path):
    cfg_for(tmp_path, GOOD[:-1] + [{**GOOD[-1], "lang": "xx"}])
    (tmp_path / "params.yaml").write_text(
        f"data_root: .\npaths: {{curated: {tmp_path / 'curated'}, validation: {tmp_path / 'validation'}}}\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "validate", "--params", str(tmp_path / "params.yaml")],
                          capture_output=True, text=True, cwd=tmp_path, env={"LMPIPE_ROOT": str(tmp_path),
                                                                            "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("lmpipe validate: error:")]
    assert len(error_lines) == 1 and "expect_column_values_to_be_in_set[lang]" in error_lines[0]


def test_result_json_is_the_same_for_the_same_documents(tmp_path):
    """No run ids or clock times in the cached result: DVC hashes it the same on every rerun."""
    cfg = cfg_for(tmp_path, GOOD)
    validate.run(cfg)
    first = (tmp_path / "validation" / "result.json").read_text()
    validate.run(cfg)
    assert (tmp_path / "validation" / "result.json").read_text() == first
    assert '"run_id"' not in first and '"validation_time"' not in first
