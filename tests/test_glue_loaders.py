"""GLUE loaders: the real TSV release, MNLI/QQP in the same layout, hub-schema copies, bad input."""
from pathlib import Path

import datasets
import pytest

from glue_fixtures import write_tsv
from pipeline.errors import ConfigError, InputError
from pipeline.finetune.loaders import load_task
from pipeline.glue import TASKS

# Row counts of ../shared/data/glue (its README; the official sizes).
SHARED_COUNTS = {
    "cola": {"train": 8551, "dev": 1043, "test": 1063},
    "sst2": {"train": 67349, "dev": 872, "test": 1821},
    "mrpc": {"train": 3668, "dev": 408, "test": 1725},
    "stsb": {"train": 5749, "dev": 1500, "test": 1379},
    "rte": {"train": 2490, "dev": 277, "test": 3000},
    "wnli": {"train": 635, "dev": 71, "test": 146},
    "qnli": {"dev": 5463, "test": 5463},
    "ax": {"diagnostic": 1104},
}


@pytest.mark.parametrize("name", sorted(SHARED_COUNTS))
def test_shared_glue_tsv(shared_data, name):
    task = TASKS[name]
    data = load_task(task, shared_data / "glue", "auto", tuple(SHARED_COUNTS[name]))
    assert {s: len(d) for s, d in data.items()} == SHARED_COUNTS[name]
    for split, ds in data.items():
        labels = ds["label"]
        if split in task.test:
            assert set(labels) == {-1}
            assert list(ds["idx"]) == list(range(len(ds)))  # the submission's index column
        elif task.is_regression:
            assert 0 <= min(labels) and max(labels) <= 5
        else:
            assert set(labels) == set(range(len(task.labels)))
        assert all(ds["text_a"]) and (len(task.tsv_text) == 1 or all(ds["text_b"]))


def test_mrpc_bom_header_and_cola_headerless(shared_data):
    mrpc = load_task(TASKS["mrpc"], shared_data / "glue", "tsv", ("train",))["train"]
    assert mrpc[0]["label"] == 1 and mrpc[0]["text_a"].startswith("Amrozi accused his brother")
    cola = load_task(TASKS["cola"], shared_data / "glue", "tsv", ("train",))["train"]
    assert cola[0] == {"idx": 0, "text_a": "Our friends won't buy this analysis, let alone the next one we propose.",
                       "text_b": "", "label": 1}


MNLI_TRAIN = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
              "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label"]
MNLI_DEV = MNLI_TRAIN[:10] + ["label1", "label2", "label3", "label4", "label5", "gold_label"]
MNLI_TEST = MNLI_TRAIN[:10]


def _mnli_row(i, s1, s2, labels):
    return [str(i), "31193", f"{31193 + i}n", "government", "( x )", "( y )", "(ROOT x)", "(ROOT y)", s1, s2, *labels]


def write_mnli(root: Path) -> Path:
    d = root / "MNLI"
    pairs = [("The cat sat.", "A cat is sitting.", "entailment"), ("He left early.", "He stayed.", "contradiction"),
             ("It rained.", "The game was long.", "neutral")]
    write_tsv(d / "train.tsv", [_mnli_row(i, a, b, [g, g]) for i, (a, b, g) in enumerate(pairs)], MNLI_TRAIN)
    for split in ("dev_matched", "dev_mismatched"):
        write_tsv(d / f"{split}.tsv", [_mnli_row(i, a, b, [g] * 6) for i, (a, b, g) in enumerate(pairs)], MNLI_DEV)
    for split in ("test_matched", "test_mismatched"):
        write_tsv(d / f"{split}.tsv", [_mnli_row(i, a, b, []) for i, (a, b, _) in enumerate(pairs)], MNLI_TEST)
    return d


def write_qqp(root: Path) -> Path:
    d = root / "QQP"
    header = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    rows = [["0", "1", "2", "How do I cook rice?", "What is the way to cook rice?", "1"],
            ["1", "3", "4", "Why is the sky blue?", "How tall is Everest?", "0"]]
    write_tsv(d / "train.tsv", rows, header)
    write_tsv(d / "dev.tsv", rows, header)
    write_tsv(d / "test.tsv", [["7", "Is it raining?", "Is it wet outside?"]], ["id", "question1", "question2"])
    return d


def test_mnli_loader(tmp_path):
    write_mnli(tmp_path)
    data = load_task(TASKS["mnli"], tmp_path, "auto", TASKS["mnli"].splits)
    assert set(data) == {"train", "dev_matched", "dev_mismatched", "test_matched", "test_mismatched"}
    # hub order: entailment 0, neutral 1, contradiction 2
    assert data["train"]["label"] == [0, 2, 1]
    assert data["dev_mismatched"][1] == {"idx": 1, "text_a": "He left early.", "text_b": "He stayed.", "label": 2}
    assert data["test_matched"]["label"] == [-1, -1, -1]


def test_qqp_loader(tmp_path):
    write_qqp(tmp_path)
    data = load_task(TASKS["qqp"], tmp_path, "tsv", TASKS["qqp"].splits)
    assert data["train"]["label"] == [1, 0]
    assert data["dev"][0]["text_b"] == "What is the way to cook rice?"
    assert data["test"][0]["idx"] == 7  # the test file's id column, as the submission needs


def test_missing_task_names_task_and_file(tmp_path):
    write_qqp(tmp_path)
    with pytest.raises(InputError, match=r"^rte: .*RTE.*: task not found"):
        load_task(TASKS["rte"], tmp_path, "auto", ("train",))
    (tmp_path / "QQP" / "dev.tsv").unlink()
    with pytest.raises(InputError, match=r"^qqp: .*QQP/dev\.tsv: file not found$"):
        load_task(TASKS["qqp"], tmp_path, "tsv", ("train", "dev"))


def test_wrong_column_count_names_row(tmp_path):
    write_tsv(tmp_path / "RTE" / "train.tsv", [["0", "a b", "c", "entailment"], ["1", "a b", "not_entailment"]],
              ["index", "sentence1", "sentence2", "label"])
    with pytest.raises(InputError, match=r"^rte: .*RTE/train\.tsv row 3: expected 4 columns, got 3$"):
        load_task(TASKS["rte"], tmp_path, "tsv", ("train",))


def test_label_outside_set_names_row(tmp_path):
    write_tsv(tmp_path / "CoLA" / "dev.tsv", [["gj04", "1", "", "Fine."], ["gj04", "2", "*", "Bad."]])
    with pytest.raises(InputError, match=r"^cola: .*CoLA/dev\.tsv row 2: label '2' not in \['0', '1'\]$"):
        load_task(TASKS["cola"], tmp_path, "tsv", ("dev",))
    write_tsv(tmp_path / "STS-B" / "dev.tsv", [["0", "a", "b", "7.5"]], ["index", "sentence1", "sentence2", "score"])
    with pytest.raises(InputError, match=r"^stsb: .*row 2: score '7.5' outside \[0.0, 5.0\]$"):
        load_task(TASKS["stsb"], tmp_path, "tsv", ("dev",))


def test_header_without_needed_column(tmp_path):
    write_tsv(tmp_path / "SST-2" / "train.tsv", [["good film", "1"]], ["text", "label"])
    with pytest.raises(InputError, match=r"^sst2: .*row 1: header lacks column\(s\) \['sentence'\]"):
        load_task(TASKS["sst2"], tmp_path, "tsv", ("train",))


def _hub_schema_rte() -> datasets.DatasetDict:
    def split(labels):
        return datasets.Dataset.from_dict({"sentence1": ["A man sleeps."] * len(labels),
                                           "sentence2": ["Someone rests."] * len(labels),
                                           "label": labels, "idx": list(range(len(labels)))})
    return datasets.DatasetDict({"train": split([0, 1, 1]), "validation": split([1, 0]), "test": split([-1])})


def test_save_to_disk_and_parquet_sources(tmp_path):
    hub = _hub_schema_rte()
    hub.save_to_disk(str(tmp_path / "disk" / "rte"))
    for name, ds in hub.items():
        (tmp_path / "pq" / "rte").mkdir(parents=True, exist_ok=True)
        ds.to_parquet(str(tmp_path / "pq" / "rte" / f"{name}-00000-of-00001.parquet"))
    for root in (tmp_path / "disk", tmp_path / "pq"):
        data = load_task(TASKS["rte"], root, "auto", ("train", "dev", "test"))
        assert data["train"]["label"] == [0, 1, 1] and data["dev"]["label"] == [1, 0]
        assert data["test"][0] == {"idx": 0, "text_a": "A man sleeps.", "text_b": "Someone rests.", "label": -1}


def test_hub_schema_label_checked(tmp_path):
    hub = _hub_schema_rte()
    hub["validation"] = hub["validation"].map(lambda r: {"label": 5})
    hub.save_to_disk(str(tmp_path / "rte"))
    with pytest.raises(InputError, match=r"^rte: .*\[validation\] row 1: label 5 outside \[0, 1\]$"):
        load_task(TASKS["rte"], tmp_path, "disk", ("dev",))


def test_hub_needs_network(monkeypatch):
    monkeypatch.delenv("LMPIPE_ONLINE", raising=False)
    with pytest.raises(ConfigError, match="LMPIPE_ONLINE"):
        load_task(TASKS["rte"], None, "hub", ("train",))
