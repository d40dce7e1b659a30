"""ner: named-entity recognition on CoNLL-2003 (or any CoNLL-format IOB file pair), scored with
entity-level micro precision / recall / F1 (seqeval, conlleval semantics: metrics.py).

Rows (pipeline/apps/common.py): the pipeline's checkpoint fine-tuned as a token classifier
(model.py), the same architecture from random weights (the floor), and spaCy's entity recognizer
trained from scratch on the same sentences (baseline.py). Files: pipeline/formats/conll.py reads the column files,
or the HF conll2003 layout (a .parquet file, a save_to_disk directory, `hub:` with LMPIPE_ONLINE=1).

Outputs under paths.ner as every application lays them out (pipeline/apps/__init__.py); each
prediction line holds one evaluation sentence: id (file:line), input (its words), reference and
prediction (one IOB tag per word), all space-joined, so the i-th tag belongs to the i-th word.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from pipeline.apps.common import FineTune, ModelRow, RowResult, Slice, check_rows, run_models, subset
from pipeline.apps.files import recorded
from pipeline.apps.hf import locate
from pipeline.ner.baseline import SpacyConfig, fit_spacy
from pipeline.formats.conll import OUTSIDE, Corpus, Sentence, check_labels, read_corpus
from pipeline.ner.metrics import entity_scores
from pipeline.ner.model import fit_tagger
from pipeline.sources import data_root_path

log = logging.getLogger(__name__)

TITLE = "NER (CoNLL-2003 test)"
METRICS = ["precision", "recall", "f1"]


# The stage's own defaults as classes, not default_factory values: a partial override
# (`--set ner.train.lr=1e-3`, or a params section with one key) builds the class from its
# defaults, so the keys left out keep these values rather than FineTune's and Slice's.
@dataclass
class NerSlice(Slice):
    """Sized for the stage's 35 s budget (all three rows, Python start included) on 2 shared CPU
    cores: ~10 s go to starting Python and importing torch/transformers/spaCy, and the
    5M-parameter default model trains at ~12 ms per sentence and epoch. 500 + 400 measured 34 s,
    600 + 400 38 s. 400 test sentences hold ~650 entities: F1 moves ~2-3 points with the draw."""
    train_examples: int | None = 500
    eval_examples: int | None = 400


@dataclass
class NerFineTune(FineTune):
    """One epoch (32 steps on the slice) at a high rate for a small model. Measured on the slice,
    seeds 0/1/2: pipeline F1 22.4/5.1/18.5, floor 22.5/21.8/19.2: 32 steps leave the pretrained
    row near the point where it stops tagging everything O, so its seed spread is wide. Batches
    of 8 at lr 1e-3 were steadier (pipeline 13.7/13.0/17.8, floor 20.6/25.2/20.3) but cost 1.2 s
    more per row, past the budget; lr 5e-3, or 2e-3 in batches of 8, diverged on some seeds."""
    lr: float = 2e-3
    epochs: int = 1


def default_rows() -> list[ModelRow]:
    return [ModelRow("pipeline"), ModelRow("floor", init="random"), ModelRow("spacy", checkpoint="baseline")]


@dataclass
class Config:
    data_root: str = "../shared/data"
    model: str = "data/model"                  # the pipeline's checkpoint (alias `pipeline`)
    ner: str = "data/ner"                      # output directory
    plot: str = "plots/ner.csv"
    # Data, relative to data_root: CoNLL column files, or the HF conll2003 layout (pipeline/apps/hf.py).
    # Labels are the training file's tags; evaluation is CoNLL test.
    train_file: str = "ner/conll2003/train.txt.xz"
    ner_eval: str = "ner/conll2003/test.txt"   # paths.ner_eval: curate decontaminates against it
    # Column layout, so other CoNLL-format sets load: CoNLL-2003 is `token POS chunk NER`.
    token_column: int = 0
    tag_column: int = -1
    columns: int | None = None                 # every token line's count; None = the first line's
    docstart: str | None = "-DOCSTART-"        # document separator lines' first field; None = none
    setting: Literal["slice", "full"] = "slice"  # full = every sentence of both files
    slice: NerSlice = field(default_factory=NerSlice)
    train: NerFineTune = field(default_factory=NerFineTune)
    max_length: int = 128                      # subwords per sentence; capped at the model's positions
    models: list[ModelRow] = field(default_factory=default_rows)
    spacy: SpacyConfig = field(default_factory=SpacyConfig)
    threads: int = 0                           # torch intra-op threads; 0 = torch's default

    def __post_init__(self):
        check_rows(self.models)
        if self.max_length < 8:
            raise ValueError(f"max_length: {self.max_length} < 8")
        if self.threads < 0:
            raise ValueError(f"threads: {self.threads} < 0")
        if self.columns is not None and self.columns < 2:
            raise ValueError(f"columns: {self.columns} < 2 (a token and a tag)")


def _read(cfg: Config, relative: str, what: str) -> Corpus:
    return read_corpus(locate(data_root_path(cfg.data_root).resolve(), relative), what,
                       token_column=cfg.token_column, tag_column=cfg.tag_column, columns=cfg.columns,
                       docstart=cfg.docstart)


def _accounting(cfg: Config, corpus: Corpus, used: list[Sentence]) -> dict:
    return {"file": recorded(corpus.path, data_root_path(cfg.data_root)), "documents": corpus.documents,
            "sentences_read": len(corpus.sentences),
            "tokens_read": corpus.tokens, "entities_read": corpus.entities(), "sentences_used": len(used),
            "tokens_used": sum(len(s.words) for s in used),
            "dropped": {"outside the slice": len(corpus.sentences) - len(used)} if len(used) < len(corpus.sentences)
            else {}}


def run(cfg: Config) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # Both files are read and checked before any training.
    train_corpus = _read(cfg, cfg.train_file, "ner.train_file")
    eval_corpus = _read(cfg, cfg.ner_eval, "paths.ner_eval")
    check_labels(train_corpus, eval_corpus, "paths.ner_eval")
    # O first, then the types' B-/I- tags in order: a stable label <-> id map across runs
    labels = sorted(train_corpus.labels, key=lambda t: (t != OUTSIDE, t[2:], t))
    full = cfg.setting == "full"
    train = subset(train_corpus.sentences, None if full else cfg.slice.train_examples)
    evaluation = subset(eval_corpus.sentences, None if full else cfg.slice.eval_examples)
    data = {"train": _accounting(cfg, train_corpus, train), "eval": _accounting(cfg, eval_corpus, evaluation),
            "labels": labels}
    log.info("ner: %d of %d training and %d of %d evaluation sentences, tags %s", len(train),
             len(train_corpus.sentences), len(evaluation), len(eval_corpus.sentences), " ".join(labels))
    references = [s.tags for s in evaluation]

    def fit(row: ModelRow, checkpoint: Path | None, workdir: Path) -> RowResult:
        if checkpoint is None:
            (tags, extra), flops = fit_spacy(train, evaluation, cfg.spacy), 0.0  # no transformer FLOPs
        else:
            tagged = fit_tagger(row, checkpoint, workdir, train, evaluation, labels, row.finetune(cfg.train),
                                cfg.max_length)
            tags, flops, extra = tagged.tags, tagged.flops, tagged.extra
        predictions = [{"id": s.id, "input": " ".join(s.words), "reference": " ".join(s.tags),
                        "prediction": " ".join(p)} for s, p in zip(evaluation, tags)]
        return RowResult(metrics=entity_scores(references, tags), predictions=predictions,
                         train_examples=len(train), flops=flops, extra=extra)

    result = run_models(cfg, title=TITLE, out_dir=cfg.ner, plot=cfg.plot, model_path=cfg.model, rows=cfg.models,
                        metrics=METRICS, primary="f1", fit=fit)
    return {**result, "data": data}
