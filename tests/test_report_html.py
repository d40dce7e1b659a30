"""The report card: its page in a real browser (Debian's Chromium, driven by Playwright), its
Hugging Face cards, and the logic behind its tables."""
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from huggingface_hub import DatasetCard, ModelCard

from pipeline.report.costs import cost_summary
from pipeline.report.html import fmt, glue_table
from pipeline.report.lineage import lineage
from pipeline.stages import APPLICATIONS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The flags the machine's notes give for a closed network: no background fetches at start-up.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECTIONS = ["Stages", "Corpus", "Pretraining", "GLUE (dev) and the applications", "Compute and energy", "Bias",
            "Interpretability", "Lineage"]


@pytest.mark.slow
def test_the_page_loads_in_chromium_with_no_outside_request(tiny_repro, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM}: not installed (`make test` installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    page_path = tiny_repro / "data" / "report_card" / "index.html"
    requests, failed = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(page_path.as_uri(), wait_until="load")
        headings = page.locator("h2").all_inner_texts()
        app_headings = page.locator("#glue h3").all_inner_texts()
        app_rows = [page.locator(f"#{app} + .plot + table tbody tr").count() for app in APPLICATIONS]
        svgs, images = page.locator(".plot svg").count(), page.locator(".plot img").count()
        broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        browser.close()
    outside = [u for u in requests if u != page_path.as_uri() and not u.startswith("data:")]
    assert outside == [] and failed == [], (outside, failed)
    assert headings == SECTIONS
    # funnel, loss, GLUE and one per application; attention and attributions
    assert svgs == 3 + len(APPLICATIONS) and images == 2 and broken == 0
    assert len(app_headings) == len(APPLICATIONS) and all("(slice setting)" in h for h in app_headings), app_headings
    report = json.loads((tiny_repro / "data" / "report_card" / "report.json").read_text())
    assert app_rows == [len(report["applications"][app]["models"]) for app in APPLICATIONS]
    assert (tmp_path / "report.png").stat().st_size > 20_000  # a rendered page, not a blank one
    if os.environ.get("LMPIPE_SCREENSHOT"):  # keep it for a person to look at
        shutil.copy(tmp_path / "report.png", os.environ["LMPIPE_SCREENSHOT"])


@pytest.mark.slow
def test_the_cards_parse_as_the_hub_parses_them(tiny_repro):
    report = json.loads((tiny_repro / "data" / "report_card" / "report.json").read_text())
    model = ModelCard.load(tiny_repro / "data" / "report_card" / "cards" / "model" / "README.md")
    results = {(r.dataset_config, r.metric_type): r.metric_value for r in model.data.eval_results}
    pipeline = report["glue"]["models"]["pipeline"]["tasks"]
    assert results == {(t, m): v for t, row in pipeline.items() for m, v in row["metrics"].items()}
    assert model.data.datasets == ["lmpipe-curated-corpus"] and model.data.model_name == "lmpipe-tiny"
    assert model.data.license == "cc-by-sa-4.0"  # trained on Wikipedia text, which is share-alike
    assert "CrowS-Pairs" in model.text and "kWh" in model.text
    dataset = DatasetCard.load(tiny_repro / "data" / "report_card" / "cards" / "dataset" / "README.md")
    assert dataset.data.pretty_name == "lmpipe-curated-corpus"
    assert set(dataset.data.source_datasets) == set(report["stages"]["ingest"]["sources"])
    assert "cc-by-sa-4.0" in dataset.data.license  # the Wikipedia sources
    kept = report["stages"]["curate"]["docs_kept"]
    assert f"{kept:,} documents kept" in dataset.text
    # Each saved checkpoint carries its own card: the pretrained model, the fine-tuned classifier.
    pretrained = ModelCard.load(tiny_repro / "data" / "model" / "README.md")
    assert pretrained.data.pipeline_tag == "fill-mask" and "Validation loss" in pretrained.text
    classifier = ModelCard.load(tiny_repro / "data" / "finetune" / "models" / "pipeline" / "sst2" / "README.md")
    assert [(r.dataset_config, r.metric_type, r.metric_value) for r in classifier.data.eval_results] == [
        ("sst2", "accuracy", pipeline["sst2"]["metrics"]["accuracy"])]  # one seed: its metrics are the mean


def test_cost_summary_splits_finetuning_by_model_time():
    cost = {"wall_time_s": 10.0, "cpu_time_s": 20.0, "gpu_time_s": 0.0, "flops": None, "energy_kwh": 0.01,
            "co2e_kg": 0.004, "energy_method": "m"}
    stages = {"ingest": {"cost": cost}, "pretrain": {"cost": {**cost, "flops": 100.0}},
              "finetune": {"cost": {**cost, "flops": 40.0}, "time_s": {"pipeline": 3.0, "classical": 1.0}}}
    glue = {"models": {"pipeline": {"tasks": {"cola": {"flops": 30.0}, "sst2": {"flops": 10.0}}},
                       "classical": {"tasks": {"cola": {"flops": 0}}}}}
    summary = cost_summary(stages, glue)
    assert summary["total"]["energy_kwh"] == pytest.approx(0.03)
    assert summary["by_model"]["corpus"]["energy_kwh"] == pytest.approx(0.01)
    assert summary["by_model"]["pipeline"]["energy_kwh"] == pytest.approx(0.01 + 0.0075)
    assert summary["by_model"]["pipeline"]["flops"] == pytest.approx(100.0 + 30.0 + 10.0)  # its own tasks
    assert summary["by_model"]["classical"]["energy_kwh"] == pytest.approx(0.0025)
    assert summary["by_model"]["classical"]["flops"] is None  # TF-IDF: no transformer FLOPs
    assert summary["method"] == ["m"]


def test_lineage_reads_the_hashes_of_dvc_lock(tmp_path):
    lock = {"schema": "2.0", "stages": {"pretrain": {"cmd": "x", "outs": [{"path": "data/model", "md5": "abc.dir"}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    paths = {"docs": "data/docs", "curated": "data/curated", "tokenizer": "data/tokenizer", "tokens": "data/tokens",
             "model": "data/model", "finetune": "data/finetune"}
    out = lineage(paths, tmp_path / "dvc.lock")
    assert out["model"] == {"path": "data/model", "stage": "pretrain", "md5": "abc.dir"}
    assert out["docs"]["md5"] is None  # not in the lock: shown as such, not guessed
    assert lineage(paths, tmp_path / "missing.lock")["model"]["md5"] is None


def test_glue_table_lists_the_run_before_the_published_rows():
    glue = {"tasks": ["cola", "mrpc"],
            "models": {"pipeline": {"init": "pretrained", "glue_score": 40.0,
                                    "tasks": {"cola": {"metrics": {"mcc": 10.0}},
                                              "mrpc": {"metrics": {"f1": 80.0, "accuracy": 70.0}}}}},
            "reference_test_set": {"models": {"BERT-Tiny": {"published_glue_score": 64.2,
                                                            "tasks": {"cola": {"mcc": 0.0}}}}}}
    headers, rows, ref_from = glue_table(glue)
    assert headers == ["model", "GLUE", "CoLA (mcc)", "MRPC (f1/accuracy)"]
    assert rows[0] == ["pipeline (pretrained)", 40.0, "10", "80/70"]
    assert rows[1][0] == "BERT-Tiny [published, test]" and rows[1][3] is None and ref_from == 1


def test_fmt_reads_like_a_person_writes_numbers():
    assert [fmt(None), fmt(1234567), fmt(0.123456), fmt(2.5e12), fmt(3.0)] == ["–", "1,234,567", "0.1235",
                                                                              "2.5e+12", "3"]
