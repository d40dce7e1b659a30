"""qa: extractive question answering, trained on SQuAD v1.1 dev and scored on XQuAD-en.

XQuAD-en (Artetxe et al. 2020) is 240 paragraphs of SQuAD v1.1 dev with their 1,190 questions.
The other 1,827 dev paragraphs (9,380 questions) are the training side: the paragraphs listed in
`exclude_file` are removed from it, and a context left on both sides is an InputError.

Rows (pipeline/apps/common.py): the pipeline's checkpoint with a span head (model.py), the same
architecture from random weights (the floor), and the lexical sliding window (baseline.py).
Scores: the official SQuAD v1.1 exact match and F1 (x100), F1 primary. Each prediction line is
one evaluation question: id, input (the question, then the title and the context's start),
reference (its gold answers) and prediction (the answer text).

Files: pipeline/formats/squad.py (reading, answer checks, the split), model.py (span heads, windows, n-best
decoding), baseline.py (the lexical sliding window), metrics.py (the official EM/F1).
Outputs (pipeline/apps/__init__.py): <qa>/<model>/predictions.jsonl, result.json, table.md,
config.yaml, plots/qa.csv; metrics/qa.json is run()'s dict.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from pipeline.apps import common
from pipeline.apps.common import FineTune, ModelRow, RowResult, Slice
from pipeline.apps.files import recorded
from pipeline.apps.hf import locate
from pipeline.formats import squad
from pipeline.qa import baseline, model
from pipeline.qa.metrics import evaluate
from pipeline.formats.squad import Example
from pipeline.sources import data_root_path
from pipeline.config import check_ranges

log = logging.getLogger(__name__)

TITLE = "Extractive QA (XQuAD-en)"
EXCERPT_CHARS = 60  # of the context, after the title, in a prediction's `input`


def _default_models() -> list[ModelRow]:
    return [ModelRow("pipeline"), ModelRow("floor", init="random"),
            ModelRow("sliding_window", checkpoint=common.BASELINE)]


@dataclass
class QaSlice(Slice):
    """Questions, sized for the stage's 40 s budget on 2 CPU cores with all three rows (imports
    take 6-9 s): 80 training questions make 207 windows, 160 evaluation questions 419, 14 s per
    neural row with another job on the cores (38 s for the stage). F1 over 160 questions has a
    standard error of ~2 points; at this size neither neural row learns beyond a few F1 points.
    (Subclasses, not lambdas: a partial override such as `--set qa.slice.eval_examples=100`
    keeps the other defaults.)"""
    train_examples: int | None = 80
    eval_examples: int | None = 160


@dataclass
class QaFineTune(FineTune):
    """lr: the top of Turc et al. 2019's grid; at 150 questions 1e-4, 3e-4 and 1e-3 scored within
    noise of each other (F1 5-7) on held-out training-side questions. One epoch: each more
    costs as much again of the budget."""
    lr: float = 3e-4
    epochs: int = 1


@dataclass
class Config:
    data_root: str = "../shared/data"
    model: str = "data/model"                 # the pipeline's checkpoint (alias `pipeline`)
    qa: str = "data/qa"                       # output directory
    plot: str = "plots/qa.csv"
    # Data, relative to data_root: SQuAD v1.1 JSON or flat JSONL, plain or compressed, or the HF
    # `squad` layout (a .parquet file, a save_to_disk directory, `hub:`: pipeline/apps/hf.py).
    train_file: str = "qa/squad-v1.1-dev/dev-v1.1.json.xz"
    qa_eval: str = "qa/xquad/xquad.en.json"    # paths.qa_eval: curate decontaminates against it
    # (title, paragraph_index) TSV of the train file's paragraphs that are eval's; "" = none
    exclude_file: str = "qa/squad-v1.1-dev/paragraphs-in-xquad-en.tsv"
    setting: Literal["slice", "full"] = "slice"  # full: every question of both sides
    slice: QaSlice = field(default_factory=QaSlice)
    train: QaFineTune = field(default_factory=QaFineTune)
    # Windows: HF run_qa / BERT run_squad use 384 tokens, 128 of them shared by consecutive
    # windows, questions cut at 64, for BERT's 512 positions. The pipeline model has 128
    # positions (max_length is capped at a checkpoint's own): contexts average ~200 of its
    # tokens, so a question spans ~2.6 windows; questions average 15 tokens, 99% have <= 31.
    max_length: int = 128
    doc_stride: int = 32                      # tokens shared by consecutive windows
    max_query_length: int = 32                # question tokens kept; cuts 55 of 9,380 / 6 of 1,190
    n_best: int = 20                          # start and end candidates per window (run_qa default)
    max_answer_length: int = 30               # tokens (run_qa / run_squad default)
    models: list[ModelRow] = field(default_factory=_default_models)
    baseline: baseline.SlidingWindow = field(default_factory=baseline.SlidingWindow)
    threads: int = 0                          # torch intra-op threads; 0 = torch's default

    def __post_init__(self):
        common.check_rows(self.models)
        checks = {"max_length": self.max_length >= 16, "doc_stride": self.doc_stride >= 1,
                  "max_query_length": self.max_query_length >= 1, "n_best": self.n_best >= 1,
                  "max_answer_length": self.max_answer_length >= 1, "threads": self.threads >= 0}
        check_ranges(self, checks)


def _side(file: str, checked: squad.Checked, paragraphs: list, available: list[Example],
          used: list[Example]) -> dict:
    """One side's accounting: as read and checked, after the exclusion, and the slice used."""
    return {"file": file, "read": checked.accounting(), "paragraphs": len(paragraphs),
            "questions": len(available), "questions_used": len(used),
            "paragraphs_used": len({e.context for e in used}),
            "dropped": {"outside the slice": len(available) - len(used)}}


def load_sides(cfg: Config) -> tuple[list[Example], list[Example], dict]:
    """Both files read and checked, the excluded paragraphs removed from train, then the slice
    (questions drawn with common.subset); the accounting of every step."""
    root = data_root_path(cfg.data_root).resolve()
    train_path, eval_path = locate(root, cfg.train_file), locate(root, cfg.qa_eval)
    train, evaluation = squad.load(train_path, "qa.train_file"), squad.load(eval_path, "paths.qa_eval")
    exclude = squad.read_exclude(root / cfg.exclude_file, "qa.exclude_file") if cfg.exclude_file else set()
    kept, excluded = squad.split_sides(train, evaluation, exclude, str(train_path), str(eval_path))
    train_all, eval_all = squad.examples(kept), squad.examples(evaluation.paragraphs)
    full = cfg.setting == "full"
    train_used = common.subset(train_all, None if full else cfg.slice.train_examples)
    eval_used = common.subset(eval_all, None if full else cfg.slice.eval_examples)
    data = {"train": _side(recorded(train_path, root), train, kept, train_all, train_used),
            "eval": _side(recorded(eval_path, root), evaluation, evaluation.paragraphs, eval_all, eval_used)}
    data["train"]["excluded"] = excluded  # the eval file's paragraphs, listed in exclude_file
    log.info("qa: training on %s of %s questions (%s paragraphs excluded as XQuAD's), scoring %s of %s",
             f"{len(train_used):,}", f"{len(train_all):,}", excluded["paragraphs_excluded"],
             f"{len(eval_used):,}", f"{len(eval_all):,}")
    return train_used, eval_used, data


def _prediction(example: Example, answer: str) -> dict:
    excerpt = example.context[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
    return {"id": example.id, "input": f"{example.question} [{example.title.replace('_', ' ')}: {excerpt}]",
            "reference": example.answers, "prediction": answer}


def _fit(cfg: Config, train: list[Example], evaluation: list[Example]):
    def fit(row: ModelRow, checkpoint: Path | None, workdir: Path) -> RowResult:
        extra, flops = {}, 0.0
        if checkpoint is None:
            answers = baseline.predict(train, evaluation, cfg.baseline)
        else:
            shape = model.Shape(cfg.max_length, cfg.doc_stride, cfg.max_query_length)
            fitted = model.fit_predict(checkpoint, row.init, train, evaluation, shape, row.finetune(cfg.train),
                                       cfg.n_best, cfg.max_answer_length, workdir)
            answers = ["" if s is None else e.context[s[0]:s[1]].strip() for e, s in zip(evaluation, fitted.spans)]
            flops = fitted.flops
            extra = {"epochs": fitted.epochs, "train_windows": fitted.train_windows,
                     "eval_windows": fitted.eval_windows, "questions_cut": fitted.questions_cut,
                     "train_loss": round(fitted.train_loss, 4), "no_span": sum(s is None for s in fitted.spans)}
        scores = evaluate({e.id: e.answers for e in evaluation}, {e.id: a for e, a in zip(evaluation, answers)})
        return RowResult(metrics=scores, predictions=[_prediction(e, a) for e, a in zip(evaluation, answers)],
                         train_examples=len(train), flops=flops, extra=extra)
    return fit


def run(cfg: Config) -> dict:
    train, evaluation, data = load_sides(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    result = common.run_models(cfg, title=TITLE, out_dir=cfg.qa, plot=cfg.plot, model_path=cfg.model,
                               rows=cfg.models, metrics=["exact_match", "f1"], primary="f1",
                               fit=_fit(cfg, train, evaluation))
    return {**result, "data": data}
