"""The GLUE tasks: one column mapping per task, for every source format. Outside the finetune
stage package so that the model card (cards.py) and the report read it without importing that stage.

Layouts follow GLUE's original TSV release (`download_glue_data.py`; see
../shared/data/README.md) and the `nyu-mll/glue` dataset on the Hugging Face hub. Labels are
listed in the hub's integer order, so hub label i is `labels[i]`; the strings are the TSV values,
which are also what the GLUE submission server expects.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    name: str                       # params key and hub config name: "cola"
    dir: str                        # directory of the TSV release: "CoLA"
    labels: tuple[str, ...] | None  # classification labels in hub order; None = regression
    metrics: tuple[str, ...]        # official metrics, see metrics.py
    tsv_text: tuple[str, ...]       # TSV column(s) holding the text (one or a pair)
    hub_text: tuple[str, ...]       # the same columns in `nyu-mll/glue`
    tsv_label: str | None = "label"
    tsv_index: str = "index"        # id column of the test files (the submission's "index")
    # split -> file stem; dev/test splits may be several (MNLI matched/mismatched)
    train: str | None = "train"
    dev: tuple[str, ...] = ("dev",)
    test: tuple[str, ...] = ("test",)
    # splits whose TSV has no header: their column names, in order (CoLA train/dev)
    headerless: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # test split -> submission file name on gluebenchmark.com
    submission: dict[str, str] = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def splits(self) -> tuple[str, ...]:
        return ((self.train,) if self.train else ()) + self.dev + self.test


# STS-B similarity scores are defined on [0, 5] (Cer et al. 2017, SemEval task 1).
STSB_RANGE = (0.0, 5.0)
BINARY = ("0", "1")
NLI2 = ("entailment", "not_entailment")
NLI3 = ("entailment", "neutral", "contradiction")

TASKS: dict[str, Task] = {t.name: t for t in [
    Task("cola", "CoLA", BINARY, ("mcc",), ("sentence",), ("sentence",),
         headerless={s: ("source", "label", "original_label", "sentence") for s in ("train", "dev")},
         submission={"test": "CoLA.tsv"}),
    Task("sst2", "SST-2", BINARY, ("accuracy",), ("sentence",), ("sentence",),
         submission={"test": "SST-2.tsv"}),
    Task("mrpc", "MRPC", BINARY, ("f1", "accuracy"), ("#1 String", "#2 String"),
         ("sentence1", "sentence2"), tsv_label="Quality", submission={"test": "MRPC.tsv"}),
    Task("stsb", "STS-B", None, ("pearson", "spearman"), ("sentence1", "sentence2"),
         ("sentence1", "sentence2"), tsv_label="score", submission={"test": "STS-B.tsv"}),
    Task("qqp", "QQP", BINARY, ("f1", "accuracy"), ("question1", "question2"),
         ("question1", "question2"), tsv_label="is_duplicate", tsv_index="id",
         submission={"test": "QQP.tsv"}),
    Task("mnli", "MNLI", NLI3, ("accuracy",), ("sentence1", "sentence2"), ("premise", "hypothesis"),
         tsv_label="gold_label", dev=("dev_matched", "dev_mismatched"),
         test=("test_matched", "test_mismatched"),
         submission={"test_matched": "MNLI-m.tsv", "test_mismatched": "MNLI-mm.tsv"}),
    Task("qnli", "QNLI", NLI2, ("accuracy",), ("question", "sentence"), ("question", "sentence"),
         submission={"test": "QNLI.tsv"}),
    Task("rte", "RTE", NLI2, ("accuracy",), ("sentence1", "sentence2"), ("sentence1", "sentence2"),
         submission={"test": "RTE.tsv"}),
    Task("wnli", "WNLI", BINARY, ("accuracy",), ("sentence1", "sentence2"), ("sentence1", "sentence2"),
         submission={"test": "WNLI.tsv"}),
    # The diagnostic set: test only, scored by the MNLI model (GLUE paper, section 4).
    Task("ax", "diagnostic", NLI3, ("accuracy",), ("sentence1", "sentence2"), ("premise", "hypothesis"),
         tsv_label=None, train=None, dev=(), test=("diagnostic",), submission={"diagnostic": "AX.tsv"}),
]}

# The tasks of the GLUE score (AX is a diagnostic, not part of it).
GLUE_TASKS = tuple(t for t in TASKS if t != "ax")

# The split names of `nyu-mll/glue` for our file stems.
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test",
              "dev_matched": "validation_matched", "dev_mismatched": "validation_mismatched",
              "test_matched": "test_matched", "test_mismatched": "test_mismatched",
              "diagnostic": "test"}


def get(name: str) -> Task:
    return TASKS[name]
