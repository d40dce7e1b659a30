"""The applications' HF `datasets` layouts (parquet, save_to_disk, hub: pipeline/apps/hf.py) read
the same examples as their native files; per-row fine-tuning settings; recorded paths."""
import io
import json
import os
import subprocess
import sys

import datasets
import pytest

from pipeline.apps.common import FineTune, ModelRow
from pipeline.apps.files import recorded
from pipeline.apps.hf import Spec, open_dataset
from pipeline.config import build
from pipeline.errors import ConfigError, InputError
from pipeline.ner import Config as NerConfig
from pipeline.formats.conll import read_conll, read_corpus
from pipeline.formats import squad
from pipeline.formats import dialogsum
from pipeline.formats import multi30k as parallel
from hub_server import LocalHub

# conll2003's ner_tags ClassLabel names, in the hub dataset's order
CONLL_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def _conll_rows(corpus) -> datasets.Dataset:
    features = datasets.Features({"id": datasets.Value("string"), "tokens": datasets.List(datasets.Value("string")),
                                  "ner_tags": datasets.List(datasets.ClassLabel(names=CONLL_NAMES))})
    return datasets.Dataset.from_dict(
        {"id": [str(i) for i in range(len(corpus.sentences))], "tokens": [s.words for s in corpus.sentences],
         "ner_tags": [[CONLL_NAMES.index(t) for t in s.tags] for s in corpus.sentences]}, features=features)


def test_ner_parquet_and_disk_read_as_the_conll_file(tmp_path):
    (tmp_path / "train.txt").write_text(CONLL)
    native = read_conll(tmp_path / "train.txt", "ner.train_file")
    rows = _conll_rows(native)
    rows.to_parquet(str(tmp_path / "train.parquet"))
    datasets.DatasetDict({"train": rows, "test": rows.select([1])}).save_to_disk(str(tmp_path / "conll"))
    for location, expected in ((tmp_path / "train.parquet", native.sentences),
                               (tmp_path / "conll[train]", native.sentences),
                               (tmp_path / "conll[test]", native.sentences[1:])):
        corpus = read_corpus(location, "ner.train_file")
        assert [(s.words, s.tags) for s in corpus.sentences] == [(s.words, s.tags) for s in expected]
        assert corpus.tokens == sum(len(s.words) for s in expected)
    # ids name the dataset's row, as a file's name its line
    assert read_corpus(tmp_path / "train.parquet", "x").sentences[1].id == "train.parquet:2"


def test_ner_dataset_errors_are_one_line(tmp_path):
    (tmp_path / "train.txt").write_text(CONLL)
    rows = _conll_rows(read_conll(tmp_path / "train.txt", "x"))
    datasets.DatasetDict({"train": rows, "test": rows}).save_to_disk(str(tmp_path / "conll"))
    with pytest.raises(InputError, match=r"conll: ner.train_file: name a split as .*conll\[<split>\] "
                                         r"\(has: train, test\)$"):
        read_corpus(tmp_path / "conll", "ner.train_file")
    rows.remove_columns("ner_tags").to_parquet(str(tmp_path / "no_tags.parquet"))
    with pytest.raises(InputError, match=r"no_tags.parquet: ner.train_file: missing column\(s\) \['ner_tags'\]"):
        read_corpus(tmp_path / "no_tags.parquet", "ner.train_file")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"bad.parquet: ner.train_file: cannot read it") as err:
        read_corpus(tmp_path / "bad.parquet", "ner.train_file")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"absent.parquet: ner.train_file: file not found"):
        read_corpus(tmp_path / "absent.parquet", "ner.train_file")


def test_the_hub_needs_lmpipe_online(monkeypatch):
    monkeypatch.delenv("LMPIPE_ONLINE", raising=False)
    with pytest.raises(ConfigError, match=r"^ner.train_file: hub:eriktks/conll2003\[train\]: the hub needs a "
                                          r"network \(set LMPIPE_ONLINE=1\)") as err:
        read_corpus("hub:eriktks/conll2003[train]", "ner.train_file")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"^qa.train_file: hub:google/xquad:xquad.en\[validation\]: the hub"):
        open_dataset(Spec("hub", "google/xquad", "validation", "xquad.en"), "qa.train_file")


HUB_READ = """
import json
from pipeline.errors import InputError
from pipeline.formats.conll import read_corpus
corpus = read_corpus("hub:lmpipe/conll-mini[test]", "ner.test_file")
print(json.dumps([[s.words, s.tags] for s in corpus.sentences]))
try:
    read_corpus("hub:lmpipe/absent[test]", "ner.test_file")
except InputError as err:
    print(err)
"""


def test_the_hub_loader_downloads_over_http(tmp_path):
    """`hub:` through datasets' real download code, from a local HTTP hub (tests/hub_server.py), in
    a fresh process as a user's run: LMPIPE_ONLINE=1 lifts the offline flags, HF_ENDPOINT points
    at the server. The rows read as the CoNLL file they were made from; an unknown repo is one line."""
    (tmp_path / "test.txt").write_text(CONLL)
    native = read_conll(tmp_path / "test.txt", "ner.test_file")
    parquet = io.BytesIO()
    _conll_rows(native).to_parquet(parquet)
    files = {"README.md": b"---\nlicense: cc-by-4.0\n---\n", "data/test-00000-of-00001.parquet": parquet.getvalue()}
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                                                              "TRANSFORMERS_OFFLINE")}
    with LocalHub({"lmpipe/conll-mini": files}) as hub:
        env.update(LMPIPE_ONLINE="1", HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf"),
                   HF_HUB_DISABLE_TELEMETRY="1")
        out = subprocess.run([sys.executable, "-c", HUB_READ], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows, error = out.stdout.strip().splitlines()[-2:]
    assert json.loads(rows) == [[s.words, s.tags] for s in native.sentences]
    assert any("/resolve/" in r and r.endswith(".parquet") for r in hub.requests)  # the file came over HTTP
    assert error == "hub:lmpipe/absent[test]: ner.test_file: no such dataset on the hub (or it is private and no token is set)"


SQUAD_ROWS = [  # the HF `squad` schema; q1's first answer_start is off by two, realigned as in JSON
    {"id": "q1", "title": "Game", "context": "Denver beat Carolina in 2016.", "question": "Who won?",
     "answers": {"text": ["Denver", "Denver"], "answer_start": [0, 2]}},
    {"id": "q2", "title": "Game", "context": "Denver beat Carolina in 2016.", "question": "When?",
     "answers": {"text": ["2016"], "answer_start": [24]}},
    {"id": "q3", "title": "Rain", "context": "It rained in Paris.", "question": "Where?",
     "answers": {"text": ["Paris", "London"], "answer_start": [13, 0]}}]


def test_qa_parquet_and_disk_read_as_jsonl(tmp_path):
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in SQUAD_ROWS))
    native = squad.load(tmp_path / "train.jsonl", "qa.train_file")
    rows = datasets.Dataset.from_list(SQUAD_ROWS)
    rows.to_parquet(str(tmp_path / "train.parquet"))
    rows.save_to_disk(str(tmp_path / "squad"))  # a single Dataset: no split to name
    for location in (tmp_path / "train.parquet", tmp_path / "squad"):
        loaded = squad.load(location, "qa.train_file")
        assert squad.examples(loaded.paragraphs) == squad.examples(native.paragraphs)
        assert loaded.accounting() == native.accounting()
    assert native.accounting()["answers_realigned"] == 1
    assert native.accounting()["answers_dropped"] == {"answer text not in context": 1}


DIALOGSUM_ROWS = [  # the HF knkarthick/dialogsum schema
    {"id": "train_0", "dialogue": "#Person1#: Hi.\n#Person2#: Hello.", "summary": "They greet.", "topic": "hi"},
    {"id": "train_1", "dialogue": "#Person1#: Bye.", "summary": "", "topic": "bye"},
    {"id": "train_2", "dialogue": "#Person1#: Tea?\n#Person2#: Yes.", "summary": "Tea is offered.", "topic": "tea"}]


def test_summarization_parquet_reads_as_jsonl(tmp_path):
    lines = [json.dumps({"fname": r["id"], "dialogue": r["dialogue"], "summary": r["summary"]}) for r in DIALOGSUM_ROWS]
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    native = dialogsum.load(tmp_path / "train.jsonl", "summarization.train_file")
    datasets.Dataset.from_list(DIALOGSUM_ROWS).to_parquet(str(tmp_path / "train.parquet"))
    loaded = dialogsum.load(tmp_path / "train.parquet", "summarization.train_file")
    assert loaded.rows == native.rows and loaded.accounting() == native.accounting()
    assert loaded.accounting() == {"rows": 3, "kept": 2, "dropped": {"no_summary": 1}}


def test_translation_dataset_sides_read_as_parallel_files(tmp_path):
    en, de = ["A dog runs.", "", "Two men talk."], ["Ein Hund rennt.", "Leer.", "Zwei Männer reden."]
    (tmp_path / "train.en").write_text("\n".join(en) + "\n")
    (tmp_path / "train.de").write_text("\n".join(de) + "\n")
    native = parallel.load(tmp_path / "train.en", tmp_path / "train.de", "translation.train")
    rows = datasets.Dataset.from_dict({"en": en, "de": de})
    rows.to_parquet(str(tmp_path / "train.parquet"))
    datasets.DatasetDict({"train": rows, "test": rows}).save_to_disk(str(tmp_path / "multi30k"))
    for location in (tmp_path / "train.parquet", tmp_path / "multi30k[test]"):
        loaded = parallel.load(location, location, "translation.train")
        assert loaded.pairs == native.pairs and loaded.accounting() == native.accounting()
    # one side a dataset, the other a text file: line n is row n
    assert parallel.load(tmp_path / "train.parquet", tmp_path / "train.de", "translation.train").pairs == native.pairs
    with pytest.raises(InputError, match=r"translation.train_target: missing column\(s\) \['fr'\]"):
        parallel.load(tmp_path / "train.parquet", tmp_path / "train.parquet", "translation.train", ("en", "fr"))


# ------------------------------------------------------------------------- per-row settings

def test_a_row_sets_its_own_lr_and_epochs():
    cfg = build(NerConfig, {"train": {"lr": 2e-3, "epochs": 1},
                            "models": [{"name": "pipeline"}, {"name": "minilm", "checkpoint": "minilm", "lr": "1e-4"},
                                       {"name": "long", "epochs": 3}]}, prefix="ner")
    tuned = [row.finetune(cfg.train) for row in cfg.models]
    assert [(t.lr, t.epochs) for t in tuned] == [(2e-3, 1), (1e-4, 1), (2e-3, 3)]
    assert all(t.batch_size == cfg.train.batch_size and type(t) is type(cfg.train) for t in tuned)
    assert ModelRow("m", lr=5e-5).finetune(FineTune(lr=1e-3)).lr == 5e-5


@pytest.mark.parametrize("row, message", [
    ({"name": "m", "rate": 1e-4}, r"^ner.models\[0\].rate: unknown key"),
    ({"name": "m", "lr": "fast"}, r"^ner.models\[0\].lr: expected float or NoneType, got 'fast'"),
    ({"name": "m", "epochs": 1.5}, r"^ner.models\[0\].epochs: expected int or NoneType"),
    ({"name": "m", "lr": 0}, r"^ner.models\[0\]: m: lr: out of range \(0.0\)"),
    ({"name": "m", "epochs": 0}, r"^ner.models\[0\]: m: epochs: out of range"),
    ({"name": "b", "checkpoint": "baseline", "lr": 1e-4}, r"^ner.models\[0\]: b: lr and epochs are fine-tuning"),
])
def test_row_settings_are_checked(row, message):
    with pytest.raises(ConfigError, match=message):
        build(NerConfig, {"models": [row]}, prefix="ner")


# ------------------------------------------------------------------------- recorded paths

def test_recorded_paths_do_not_depend_on_the_clone(tmp_path, project):
    root = tmp_path / "data_root"
    assert recorded(root / "ner" / "train.txt.xz", root) == "ner/train.txt.xz"
    assert recorded(project / "data" / "x.parquet", root) == "data/x.parquet"  # inside the project
    assert recorded("hub:eriktks/conll2003[test]", root) == "hub:eriktks/conll2003[test]"
