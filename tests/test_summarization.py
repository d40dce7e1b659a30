"""summarization stage: the DialogSum loader, ROUGE against the best reference, the extractive
baselines, and the stage end to end on a slice of the real data with a tiny checkpoint."""
import gzip
import json
import logging
import lzma
import shutil

import pytest
from rouge_score import rouge_scorer

from glue_fixtures import tiny_checkpoint
from pipeline.config import build
from pipeline.errors import ConfigError, InputError
from pipeline.formats import dialogsum
from pipeline.summarization import Config, baselines, run
from pipeline.summarization.metrics import rouge

DIALOGUE = "#Person1#: Hi, how are you?\n#Person2#: Fine, thanks. I am buying a new bike today.\n#Person1#: Good."


def _write(path, rows, opener=open):
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_missing_file_is_one_line_error(tmp_path):
    with pytest.raises(InputError, match=r"nope.jsonl: s.train: file not found$"):
        dialogsum.load(tmp_path / "nope.jsonl", "s.train")


def test_rows_without_summary_are_counted(tmp_path):
    rows = [{"fname": "a", "dialogue": DIALOGUE, "summary": "#Person2# buys a bike."},
            {"fname": "b", "dialogue": DIALOGUE, "summary": "  "},
            {"fname": "c", "dialogue": DIALOGUE},
            {"fname": "d", "dialogue": "", "summary": "x"}]
    loaded = dialogsum.load(_write(tmp_path / "t.jsonl.xz", rows, lzma.open), "s.train")  # any compression
    assert [d.id for d in loaded.rows] == ["a"]
    assert loaded.accounting() == {"rows": 4, "kept": 1, "dropped": {"no_summary": 2, "no_dialogue": 1}}
    assert loaded.rows[0].turns == DIALOGUE.split("\n")


def test_test_split_has_three_references(tmp_path):
    row = {"fname": "test_0", "dialogue": DIALOGUE, "summary1": "one", "topic1": "t",
           "summary2": "two", "topic2": "t", "summary3": "three", "topic3": "t"}
    loaded = dialogsum.load(_write(tmp_path / "test.jsonl.gz", [row], gzip.open), "s.eval")
    assert loaded.rows[0].references == ["one", "two", "three"]


def test_malformed_lines_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"dialogue": DIALOGUE, "summary": "s"}) + "\n{not json\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2: s.train: not JSON"):
        dialogsum.load(path, "s.train")
    path.write_text(json.dumps({"text": "x", "summary": "s"}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl:1: s.train: expected a DialogSum object"):
        dialogsum.load(path, "s.train")
    _write(path, [{"dialogue": DIALOGUE}])
    with pytest.raises(InputError, match=r"no row with a dialogue and a summary \(1 rows read\)"):
        dialogsum.load(path, "s.train")


def test_rouge_takes_the_best_reference_per_example():
    refs = [["the cat sat on the mat", "a dog barked loudly"], ["he buys a new bike"]]
    assert rouge(["a dog barked loudly", "he buys a new bike"], refs) == pytest.approx(
        {"rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0})
    scores = rouge(["the dog sat", "nothing alike"], refs)
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    best = max(scorer.score(r, "the dog sat")["rouge1"].fmeasure for r in refs[0])
    assert scores["rouge1"] == pytest.approx(100 * best / 2)  # the second example scores 0
    # the stemmer: "buying bikes" matches "buys a bike" on both words (bui, bike)
    assert rouge(["buying bikes"], [["buys bike"]])["rouge1"] == pytest.approx(100.0)


def test_baselines():
    d = dialogsum.Dialogue("x", DIALOGUE, ["s"])
    assert baselines.lead(d, 2) == "#Person1#: Hi, how are you? #Person2#: Fine, thanks. I am buying a new bike today."
    assert baselines.lead(d, 10) == " ".join(DIALOGUE.split("\n"))
    assert baselines.longest_turn(d) == "#Person2#: Fine, thanks. I am buying a new bike today."
    assert baselines.predict("lead", [d], 1) == ["#Person1#: Hi, how are you?"]


def test_config_checks():
    with pytest.raises(ConfigError, match=r"^summarization: models: x: method 'copy' unknown"):
        build(Config, {"models": [{"name": "x", "checkpoint": "baseline", "method": "copy"}]}, prefix="summarization")
    with pytest.raises(ConfigError, match=r"lead_turns: out of range"):
        build(Config, {"lead_turns": 0}, prefix="summarization")
    with pytest.raises(ConfigError, match=r"summarization.decoding.num_beamz: unknown key"):
        build(Config, {"decoding": {"num_beamz": 2}}, prefix="summarization")


@pytest.mark.slow
def test_summarization_end_to_end(shared_data, project, tmp_path, caplog):
    source = shared_data / "summarization" / "dialogsum"
    texts = [json.loads(line)["dialogue"] for line in (source / "dialogsum.dev.jsonl").read_text().splitlines()]
    ckpt = tiny_checkpoint(tmp_path / "ckpt", texts, vocab_size=400)
    rows = [{"name": "encdec", "checkpoint": str(ckpt)},
            {"name": "decoder", "checkpoint": str(ckpt), "architecture": "decoder-only"},
            {"name": "floor", "checkpoint": str(ckpt), "init": "random"},
            {"name": "lead", "checkpoint": "baseline", "method": "lead"},
            {"name": "longest", "checkpoint": "baseline", "method": "longest_turn"}]
    cfg = build(Config, {"data_root": str(shared_data), "summarization": "out", "plot": "plot.csv",
                         "slice": {"train_examples": 24, "eval_examples": 6},
                         "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "precision": "fp32"},
                         "source_max_length": 64, "target_max_length": 24,
                         "decoding": {"num_beams": 2, "max_new_tokens": 12}, "models": rows}, prefix="summarization")
    metrics = run(cfg)
    assert list(metrics["models"]) == ["encdec", "decoder", "floor", "lead", "longest"]
    assert metrics["data"]["train"] == {"rows": 12460, "kept": 12460, "dropped": {}}
    assert metrics["data"]["used"] == {"train": 24, "eval": 6}
    for name, res in metrics["models"].items():
        assert set(res["metrics"]) == {"rouge1", "rouge2", "rougeL"}
        assert all(0 <= v <= 100 for v in res["metrics"].values())
        assert res["eval_examples"] == 6
    assert metrics["models"]["encdec"]["variant"] == "bert2bert"
    assert metrics["models"]["decoder"]["variant"] == "bert-as-decoder"
    assert metrics["models"]["floor"]["transferred"] == 0.0 and metrics["models"]["encdec"]["transferred"] > 0.5
    # predictions line up with the test file's dialogues and all three references
    test = {r["fname"]: r for r in map(json.loads, (source / "dialogsum.test.jsonl").read_text().splitlines())}
    out = project / "out"
    lead = [json.loads(line) for line in (out / "lead" / "predictions.jsonl").read_text().splitlines()]
    assert len(lead) == 6
    for p in lead:
        row = test[p["id"]]
        assert p["reference"] == [row["summary1"], row["summary2"], row["summary3"]]
        assert row["dialogue"].startswith(p["input"].removesuffix(" …"))
        assert p["prediction"] == " ".join(t.strip() for t in row["dialogue"].split("\n")[:3])
    assert metrics["models"]["lead"]["metrics"]["rougeL"] == pytest.approx(
        rouge([p["prediction"] for p in lead], [p["reference"] for p in lead])["rougeL"], abs=0.01)
    assert (project / "plot.csv").read_text().count("\n") == 1 + 5 * 3
    # a killed run's finished rows are reused: the partial dir holds encdec's result, marked
    shutil.copytree(out, project / "out.partial")
    done = project / "out.partial" / "encdec" / "result.json"
    saved = json.loads(done.read_text())
    saved["result"]["metrics"]["rougeL"] = 12.34
    done.write_text(json.dumps(saved))
    with caplog.at_level(logging.INFO):
        again = run(cfg)
    assert again["score"]["encdec"] == 12.34 and caplog.text.count("reusing the result") == 5
