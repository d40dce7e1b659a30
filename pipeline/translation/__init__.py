"""translation: English -> German on Multi30K (Elliott et al. 2016), scored with sacreBLEU.

Rows: the pipeline's checkpoint as an encoder-decoder (Rothe et al. 2020 warm start) and as a
decoder-only prompted generator (pipeline/apps/seq2seq_models.py says which variant a checkpoint
gets), the same with random weights (the floor), and copying the source (baselines.py). Trained on
Multi30K train, scored on test_2016_flickr: corpus BLEU and chrF with their signatures
(metrics.py). The checkpoint's tokenizer is English-trained; each neural row records how it cuts
the German references (tokens per word, unknown-token rate). Files: pipeline/formats/multi30k.py (parallel loader),
baselines.py, metrics.py; outputs as every application stage (pipeline/apps/__init__.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from pipeline.apps import common
from pipeline.apps.common import FineTune, RowResult, Slice
from pipeline.apps.hf import locate
from pipeline.apps.seq2seq import Decoding, Seq2seqData, Seq2seqRow, check_seq2seq_rows, fit_generate
from pipeline.finetune.models import load_tokenizer
from pipeline.sources import data_root_path
from pipeline.formats import multi30k
from pipeline.translation import baselines
from pipeline.translation.metrics import METRICS, score, tokenizer_stats
from pipeline.config import check_ranges

log = logging.getLogger(__name__)

RAW = "translation/multi30k/task1/raw"


def _default_rows() -> list[Seq2seqRow]:
    return [Seq2seqRow("pipeline-encdec"),
            Seq2seqRow("pipeline-decoder", architecture="decoder-only"),
            Seq2seqRow("random-encdec", init="random"),
            Seq2seqRow("copy-source", checkpoint=common.BASELINE, method="copy")]


@dataclass
class Config:
    data_root: str = "../shared/data"
    model: str = "data/model"                # the pipeline's checkpoint (alias `pipeline`)
    translation: str = "data/translation"    # output directory
    plot: str = "plots/translation.csv"
    train_source: str = f"{RAW}/train.en.gz"  # under data_root; line-aligned with train_target
    train_target: str = f"{RAW}/train.de.gz"
    translation_eval: str = f"{RAW}/test_2016_flickr.en.gz"  # paths.translation_eval: curate decontaminates against it
    eval_target: str = f"{RAW}/test_2016_flickr.de.gz"
    # Where a side is a dataset (parquet, save_to_disk, `hub:`; formats/multi30k.py) rather than a text
    # file: its column, as in bentrevett/multi30k
    source_column: str = "en"
    target_column: str = "de"
    setting: Literal["slice", "full"] = "slice"  # full: all 29,000 train and 1,000 test pairs
    # The slice fits the default run's budget (all four rows <= 40 s with Python start on 2 cores):
    # 128 pairs are 16 steps of 8, ~7-12 s per neural row; 48 test sentences decode in 1-2 s.
    slice: Slice = field(default_factory=lambda: Slice(train_examples=128, eval_examples=48))
    train: FineTune = field(default_factory=lambda: FineTune(lr=3e-3, epochs=1, batch_size=8))
    source_max_length: int = 48    # tokens with [CLS]/[SEP]; English test sentences: at most 41
    # tokens with [SEP]: 98% of the German test sentences (2.9 tokens per word, median 31, max 85)
    target_max_length: int = 64
    decoding: Decoding = field(default_factory=lambda: Decoding(num_beams=1, max_new_tokens=64))  # greedy
    models: list[Seq2seqRow] = field(default_factory=_default_rows)
    threads: int = 0               # torch intra-op threads; 0 = torch's default

    def __post_init__(self):
        check_seq2seq_rows(self.models, baselines.METHODS)
        checks = {"source_max_length": self.source_max_length >= 4, "target_max_length": self.target_max_length >= 2,
                  "threads": self.threads >= 0}
        check_ranges(self, checks)


def run(cfg: Config) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    root = data_root_path(cfg.data_root)
    columns = (cfg.source_column, cfg.target_column)
    train_file = multi30k.load(locate(root, cfg.train_source), locate(root, cfg.train_target), "translation.train",
                           columns)
    eval_file = multi30k.load(locate(root, cfg.translation_eval), locate(root, cfg.eval_target), "translation.eval",
                          columns)
    for name, loaded in (("train", train_file), ("eval", eval_file)):
        log.info("translation %s: %d pairs, %d kept, dropped %s", name, loaded.read, len(loaded.pairs),
                 dict(loaded.dropped) or "none")
    full = cfg.setting == "full"
    train = common.subset(train_file.pairs, None if full else cfg.slice.train_examples, cfg.train.seed)
    evals = common.subset(eval_file.pairs, None if full else cfg.slice.eval_examples, cfg.train.seed)
    sources, references = [p.source for p in evals], [p.target for p in evals]
    pairs = Seq2seqData(train_sources=[p.source for p in train], train_targets=[p.target for p in train],
                        eval_sources=sources, source_max_length=cfg.source_max_length,
                        target_max_length=cfg.target_max_length, train=cfg.train, decoding=cfg.decoding)

    def fit(row: Seq2seqRow, checkpoint: Path | None, workdir: Path) -> RowResult:
        if row.is_baseline:
            predictions, flops, extra = baselines.predict(row.method, sources), 0.0, {"method": row.method}
        else:
            generated = fit_generate(row, checkpoint, workdir, pairs)
            predictions, flops, extra = generated.predictions, generated.flops, generated.extra
            tokenizer = load_tokenizer(checkpoint)
            extra["tokenizer"] = {"en": tokenizer_stats(tokenizer, sources), "de": tokenizer_stats(tokenizer, references)}
        metrics, signatures = score(predictions, references)
        shown = [{"id": p.id, "input": p.source, "reference": p.target, "prediction": pred}
                 for p, pred in zip(evals, predictions)]
        return RowResult(metrics=metrics, predictions=shown, train_examples=0 if row.is_baseline else len(train),
                         flops=flops, extra={**extra, "signatures": signatures})

    result = common.run_models(cfg, title="Translation en-de (Multi30K test_2016_flickr, sacreBLEU)",
                               out_dir=cfg.translation, plot=cfg.plot, model_path=cfg.model, rows=cfg.models,
                               metrics=METRICS, primary="bleu", fit=fit)
    return {**result, "data": {"train": train_file.accounting(), "eval": eval_file.accounting(),
                               "used": {"train": len(train), "eval": len(evals)}}}
