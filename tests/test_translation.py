"""translation stage: the parallel-text loader, sacreBLEU scores and signatures, the copy
baseline, tokenizer statistics, and the stage end to end on a slice of Multi30K."""
import gzip
import json
import logging
import shutil

import pytest
import sacrebleu

from glue_fixtures import tiny_checkpoint
from pipeline.config import build
from pipeline.errors import ConfigError, InputError
from pipeline.finetune.models import load_tokenizer
from pipeline.formats import multi30k
from pipeline.translation import Config, baselines, run
from pipeline.translation.metrics import score, tokenizer_stats


def _lines(path, lines, compress=False):
    text = "".join(line + "\n" for line in lines)
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_unequal_line_counts_name_both_files(tmp_path):
    en = _lines(tmp_path / "a.en", ["one", "two", "three"])
    de = _lines(tmp_path / "a.de.gz", ["eins", "zwei"], compress=True)
    with pytest.raises(InputError) as err:
        multi30k.load(en, de, "translation.train")
    message = str(err.value)
    assert "\n" not in message
    assert message == f"{en} has 3 lines but {de} has 2: translation.train: parallel files must align line by line"


def test_plain_and_compressed_files_and_empty_lines(tmp_path):
    en = _lines(tmp_path / "a.en.gz", ["A dog runs.", "", "Two men."], compress=True)
    de = _lines(tmp_path / "a.de", ["Ein Hund rennt.", "Leer.", "Zwei Männer."])
    loaded = multi30k.load(en, de, "t")
    assert [(p.id, p.source, p.target) for p in loaded.pairs] == [(1, "A dog runs.", "Ein Hund rennt."),
                                                                   (3, "Two men.", "Zwei Männer.")]
    assert loaded.accounting() == {"rows": 3, "kept": 2, "dropped": {"empty_line": 1}}


def test_missing_file(tmp_path):
    de = _lines(tmp_path / "a.de", ["x"])
    with pytest.raises(InputError, match=r"nope.en: t_source: file not found$"):
        multi30k.load(tmp_path / "nope.en", de, "t")


def test_scores_come_with_their_signatures():
    refs = ["Ein Hund rennt über die Wiese.", "Zwei Männer spielen Fußball."]
    metrics, signatures = score(refs, refs)
    assert metrics == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0)}
    assert signatures["bleu"] == f"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    assert signatures["chrf"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no")
    hyps = ["Ein Hund läuft auf der Wiese.", "Zwei Männer spielen."]
    metrics, _ = score(hyps, refs)
    assert metrics["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert metrics["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)


def test_copy_baseline():
    assert baselines.predict("copy", ["A dog.", "Two men."]) == ["A dog.", "Two men."]
    with pytest.raises(ValueError, match="unknown translation baseline 'lead'"):
        baselines.predict("lead", ["x"])


def test_tokenizer_stats_count_unknown_tokens(tmp_path):
    tokenizer = load_tokenizer(tiny_checkpoint(tmp_path, ["a dog runs on the grass ."] * 20, vocab_size=60))
    stats = tokenizer_stats(tokenizer, ["a dog runs", "ß"])  # "ß" was never seen: [UNK]
    assert stats["unk_rate"] > 0 and stats["tokens_per_word"] >= 1


def test_config_checks():
    with pytest.raises(ConfigError, match=r"^translation: models: x: method 'lead' unknown"):
        build(Config, {"models": [{"name": "x", "checkpoint": "baseline", "method": "lead"}]}, prefix="translation")
    with pytest.raises(ConfigError, match=r"translation.setting: expected one of"):
        build(Config, {"setting": "all"}, prefix="translation")


@pytest.mark.slow
def test_translation_end_to_end(shared_data, project, tmp_path, caplog):
    raw = shared_data / "translation" / "multi30k" / "task1" / "raw"
    texts = [line for lang in ("en", "de") for line in gzip.open(raw / f"val.{lang}.gz", "rt").read().splitlines()]
    ckpt = tiny_checkpoint(tmp_path / "ckpt", texts, vocab_size=400)
    rows = [{"name": "encdec", "checkpoint": str(ckpt)},
            {"name": "decoder", "checkpoint": str(ckpt), "architecture": "decoder-only"},
            {"name": "floor", "checkpoint": str(ckpt), "init": "random"},
            {"name": "copy", "checkpoint": "baseline", "method": "copy"}]
    cfg = build(Config, {"data_root": str(shared_data), "translation": "out", "plot": "plot.csv",
                         "slice": {"train_examples": 32, "eval_examples": 8},
                         "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "precision": "fp32"},
                         "source_max_length": 32, "target_max_length": 32,
                         "decoding": {"num_beams": 2, "max_new_tokens": 16}, "models": rows}, prefix="translation")
    metrics = run(cfg)
    assert list(metrics["models"]) == ["encdec", "decoder", "floor", "copy"]
    assert metrics["data"]["train"] == {"rows": 29000, "kept": 29000, "dropped": {}}
    assert metrics["data"]["eval"]["rows"] == 1000 and metrics["data"]["used"] == {"train": 32, "eval": 8}
    for name, res in metrics["models"].items():
        assert all(0 <= v <= 100 for v in res["metrics"].values()) and res["eval_examples"] == 8
        assert res["signatures"]["bleu"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert metrics["models"]["encdec"]["tokenizer"]["de"]["tokens_per_word"] >= 1
    # predictions line up with the test files' lines
    en = gzip.open(raw / "test_2016_flickr.en.gz", "rt").read().splitlines()
    de = gzip.open(raw / "test_2016_flickr.de.gz", "rt").read().splitlines()
    copy = [json.loads(line) for line in (project / "out" / "copy" / "predictions.jsonl").read_text().splitlines()]
    assert all(p["input"] == en[p["id"] - 1] == p["prediction"] and p["reference"] == de[p["id"] - 1] for p in copy)
    expected = sacrebleu.corpus_bleu([p["input"] for p in copy], [[p["reference"] for p in copy]]).score
    assert metrics["models"]["copy"]["metrics"]["bleu"] == pytest.approx(expected, abs=0.005)
    decoded = (project / "out" / "encdec" / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in decoded] == [p["id"] for p in copy]
    # a killed run's finished rows are reused
    shutil.copytree(project / "out", project / "out.partial")
    done = project / "out.partial" / "decoder" / "result.json"
    saved = json.loads(done.read_text())
    saved["result"]["metrics"]["bleu"] = 12.34
    done.write_text(json.dumps(saved))
    with caplog.at_level(logging.INFO):
        again = run(cfg)
    assert again["score"]["decoder"] == 12.34 and caplog.text.count("reusing the result") == 4
