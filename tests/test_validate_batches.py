"""validate in batches: corpus-wide expectations see across batches, row counts add up over them."""
from __future__ import annotations

import json

import pytest

import pipeline  # noqa: F401  (offline, no GX analytics)
from pipeline import validate
from pipeline.config import build
from curate_data import english, write_docs
from test_validate import GOOD


def cfg_for(tmp_path, shards: list[list[dict]], batch_size: int):
    for i, rows in enumerate(shards):
        write_docs(tmp_path / "curated" / "docs", rows, shard=f"part-{i}.parquet")
    return build(validate.Config, {"curated": str(tmp_path / "curated"), "validation": str(tmp_path / "validation"),
                                   "batch_size": batch_size}, prefix="validate")


def failure(cfg) -> str:
    with pytest.raises(validate.ValidationFailed) as err:
        validate.run(cfg)
    return str(err.value)


@pytest.mark.parametrize("defect, expectation", [
    ({"id": "d0"}, "expect_column_values_to_be_unique[id]: 2 rows"),
    ({"text": GOOD[0]["text"].upper()}, "expect_column_values_to_be_unique[content_hash]: 2 rows"),
])
def test_a_duplicate_in_another_batch_is_caught(tmp_path, defect, expectation):
    # batches of 2 rows: d0 is in the first batch of the first shard, the copy in the last batch
    rows = GOOD[:-1] + [{**GOOD[-1], **defect}]
    message = failure(cfg_for(tmp_path, [rows[:3], rows[3:]], batch_size=2))
    assert message.startswith("1/22 expectations failed") and expectation in message


def test_a_row_defect_in_a_later_batch_counts_its_rows(tmp_path):
    rows = GOOD + [{**GOOD[0], "id": f"x{i}", "text": english(100 + i), "lang": "fr"} for i in range(3)]
    cfg = cfg_for(tmp_path, [rows], batch_size=2)  # 9 rows: batches 0-3 of 2, then x2 alone
    assert "expect_column_values_to_be_in_set[lang]: 3 rows" in failure(cfg)
    result = json.loads((tmp_path / "validation.partial" / "result.json").read_text())
    assert result["meta"]["batches"] == 5 and result["statistics"]["unsuccessful_expectations"] == 1
    (lang,) = [r for r in result["results"] if r["expectation_config"]["kwargs"].get("column") == "lang"
               and r["expectation_config"]["type"] == "expect_column_values_to_be_in_set"]
    assert lang["result"]["element_count"] == 9 and lang["result"]["unexpected_count"] == 3
    assert lang["result"]["unexpected_percent"] == pytest.approx(100 * 3 / 9)
    assert lang["result"]["partial_unexpected_list"] == ["fr", "fr"]  # the first failing batch's: x0, x1


def test_batched_gate_is_the_one_of_one_batch(tmp_path):
    """gate.json (a DVC dependency) does not depend on the batch size."""
    gates = []
    for batch_size in (2, 1000):
        cfg = cfg_for(tmp_path / str(batch_size), [GOOD[:4], GOOD[4:]], batch_size)
        metrics = validate.run(cfg)
        assert metrics["documents"] == 6 and metrics["passed"] == metrics["expectations"] == 22
        gates.append((tmp_path / str(batch_size) / "validation" / "gate.json").read_text())
    assert gates[0] == gates[1]


def test_no_documents_fail_the_row_count(tmp_path):
    (tmp_path / "curated" / "docs").mkdir(parents=True)
    cfg = build(validate.Config, {"curated": str(tmp_path / "curated"), "validation": str(tmp_path / "validation")},
                prefix="validate")
    assert "expect_table_row_count_to_be_between" in failure(cfg)
