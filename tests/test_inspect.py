"""`lmpipe inspect` and `lmpipe plots` on artifacts written by the test (no pipeline run)."""
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.errors import InputError
from pipeline.inspect import summaries
from pipeline.inspect.state import format_headline, headline, pipeline_state

PATHS = {"docs": "data/docs", "curated": "data/curated", "tokens": "data/tokens",
         "tokenizer": "data/tokenizer", "report": "data/report", "report_card": "data/report_card"}


def write_metrics(root, stage, metrics):
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics" / f"{stage}.json").write_text(json.dumps(metrics))


def test_curate_summary_counts_reasons_with_a_sample_each(project):
    write_metrics(project, "curate", {"docs_in": 5, "docs_kept": 2})
    removed = project / "data/curated/removed/gopher_quality"
    removed.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["short", "tiny", "x " * 200],
                             "reason": ["gopher_short_doc", "gopher_short_doc", "gopher_below_alpha_threshold"]}),
                   removed / "00000.parquet")
    docs = project / "data/curated/docs"
    docs.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["d", "e"], "text": ["t", "u"], "lang": ["en", "fr"]}), docs / "0.parquet")
    summary = summaries.curate(PATHS)
    assert summary["removed"][0] == {"step": "gopher_quality", "reason": "gopher_short_doc", "docs": 2,
                                     "sample_id": "a", "sample": "short"}
    assert summary["removed"][1]["sample"].endswith("…")
    assert summary["language_mix"] == {"en": 1, "fr": 1}


def test_stage_that_has_not_run_is_one_clear_error(project):
    with pytest.raises(InputError, match=r"stage 'pretrain' has not run yet"):
        summaries.pretrain(PATHS)


def test_loss_curve_summary(project):
    (project / "plots").mkdir()
    (project / "plots/pretrain_loss.tsv").write_text("step\tloss\tlr\n1\t9.0\t0.1\n2\t7.5\t0.1\n3\t8.0\t0.1\n")
    write_metrics(project, "pretrain", {"final_val_loss": 7.9})
    curve = summaries.pretrain(PATHS)["loss_curve"]
    assert curve == {"steps": 3, "first_loss": 9.0, "last_loss": 8.0, "min_loss": 7.5, "points": 3}


def test_pipeline_state_outside_dvc(project):
    write_metrics(project, "ingest", {"docs_out": 42, "wall_time_s": 1.0})
    rows = {r["stage"]: r for r in pipeline_state()}
    assert rows["ingest"]["headline"] == "documents 42" and rows["ingest"]["up_to_date"] is None
    assert rows["curate"]["ran"] is False


def test_headline_is_named_and_rounded():
    assert format_headline("val_loss", 4.956788958101336) == "val loss 4.957"
    assert format_headline("docs_kept", 12345) == "documents kept 12,345"
    assert format_headline("glue_score", {"pipeline": 39.4412, "minilm": 54.65}) == "GLUE pipeline 39.4, minilm 54.6"


def test_headline_falls_back_on_first_number():
    assert headline("curate", {"wall_time_s": 3, "steps": [], "odd": 7}) == ("odd", 7)


def test_inspect_cli_json(project):
    write_metrics(project, "validate", {"success": True})
    (project / "params.yaml").write_text("paths: {validation: data/validation}\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "inspect", "validate", "--json"],
                          cwd=project, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"metrics": {"success": True}}


def test_plots_render_offline_without_cdn(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=project, check=True)
    (project / "plots").mkdir()
    (project / "plots/loss.tsv").write_text("step\tloss\n1\t5.0\n2\t4.0\n")
    (project / "dvc.yaml").write_text(
        "stages:\n  a:\n    cmd: 'true'\n    plots:\n      - plots/loss.tsv:\n          cache: false\n"
        "          x: step\n          y: loss\n")
    from pipeline.plots import render_all

    written = render_all("out")
    assert sorted(p.name for p in written) == ["loss.html", "loss.png"]
    html = (project / "out/loss.html").read_text()
    assert "cdn.jsdelivr" not in html and "vega" in html
    assert (project / "out/loss.png").read_bytes()[:4] == b"\x89PNG"
