"""summarization: dialogue summarization on DialogSum (Chen et al. 2021), scored with ROUGE.

Rows: the pipeline's checkpoint as an encoder-decoder (Rothe et al. 2020 warm start) and as a
decoder-only prompted generator (pipeline/apps/seq2seq_models.py says which variant a checkpoint
gets), the same with random weights (the floor), and two extracts, lead-k turns and the longest
turn (baselines.py). Trained on DialogSum train, scored on test against the best of its three
references (metrics.py). Files: baselines.py, metrics.py, and the loader pipeline/formats/dialogsum.py;
outputs as every application stage (pipeline/apps/__init__.py) under paths.summarization.
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
from pipeline.sources import data_root_path
from pipeline.formats import dialogsum
from pipeline.summarization import baselines
from pipeline.summarization.metrics import METRICS, rouge
from pipeline.config import check_ranges

log = logging.getLogger(__name__)


def _default_rows() -> list[Seq2seqRow]:
    return [Seq2seqRow("pipeline-encdec"),
            Seq2seqRow("pipeline-decoder", architecture="decoder-only"),
            Seq2seqRow("random-encdec", init="random"),
            Seq2seqRow("lead", checkpoint=common.BASELINE, method="lead"),
            Seq2seqRow("longest-turn", checkpoint=common.BASELINE, method="longest_turn")]


@dataclass
class Config:
    data_root: str = "../shared/data"
    model: str = "data/model"                  # the pipeline's checkpoint (alias `pipeline`)
    summarization: str = "data/summarization"  # output directory
    plot: str = "plots/summarization.csv"
    # under data_root: DialogSum JSONL, or the HF dialogsum layout (parquet, save_to_disk, `hub:`)
    train_file: str = "summarization/dialogsum/dialogsum.train.jsonl.xz"
    # three references per dialogue; paths.summarization_eval (curate decontaminates against it)
    summarization_eval: str = "summarization/dialogsum/dialogsum.test.jsonl"
    setting: Literal["slice", "full"] = "slice"  # full: all 12,460 train and 500 test dialogues
    # The slice fits the default run's budget (all five rows <= 40 s with Python start on 2 cores):
    # 80 dialogues are 20 steps of 4, ~7-11 s per neural row; 24 test dialogues decode in ~1.5 s.
    # That teaches the summaries' form (#Person1# ... #Person2#), not content: `full` compares models.
    slice: Slice = field(default_factory=lambda: Slice(train_examples=80, eval_examples=24))
    # 3e-3 at batch 4: the lowest last-epoch loss of {1e-3, 3e-3} x {4, 8, 16} in 80-96 examples
    train: FineTune = field(default_factory=lambda: FineTune(lr=3e-3, epochs=1, batch_size=4))
    # tokens with [CLS]/[SEP]; the dialogues' median is 227 (byte-level BPE), the checkpoint's
    # positions 128: 64 is ~45 words, the first 3-4 turns, at 60% of the step time of 128
    source_max_length: int = 64
    target_max_length: int = 48    # tokens with [SEP]: 84% of the test summaries (median 33)
    # greedy: beams cost 2-4x the decoding time; the same 48 tokens as the targets trained on
    decoding: Decoding = field(default_factory=lambda: Decoding(num_beams=1, max_new_tokens=48))
    lead_turns: int = 3            # the lead baseline's k
    input_chars: int = 400         # dialogues shown in predictions.jsonl are cut here, for reading
    models: list[Seq2seqRow] = field(default_factory=_default_rows)
    threads: int = 0               # torch intra-op threads; 0 = torch's default

    def __post_init__(self):
        check_seq2seq_rows(self.models, baselines.METHODS)
        checks = {"source_max_length": self.source_max_length >= 4, "target_max_length": self.target_max_length >= 2,
                  "lead_turns": self.lead_turns >= 1, "input_chars": self.input_chars >= 1, "threads": self.threads >= 0}
        check_ranges(self, checks)


def _shown(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def run(cfg: Config) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    root = data_root_path(cfg.data_root)
    train_file = dialogsum.load(locate(root, cfg.train_file), "summarization.train_file")
    eval_file = dialogsum.load(locate(root, cfg.summarization_eval), "paths.summarization_eval")
    for name, loaded in (("train", train_file), ("eval", eval_file)):
        log.info("summarization %s: %d rows, %d kept, dropped %s", name, loaded.read, len(loaded.rows),
                 dict(loaded.dropped) or "none")
    full = cfg.setting == "full"
    train = common.subset(train_file.rows, None if full else cfg.slice.train_examples, cfg.train.seed)
    evals = common.subset(eval_file.rows, None if full else cfg.slice.eval_examples, cfg.train.seed)
    references = [d.references for d in evals]
    pairs = Seq2seqData(train_sources=[d.dialogue for d in train], train_targets=[d.references[0] for d in train],
                        eval_sources=[d.dialogue for d in evals], source_max_length=cfg.source_max_length,
                        target_max_length=cfg.target_max_length, train=cfg.train, decoding=cfg.decoding)

    def fit(row: Seq2seqRow, checkpoint: Path | None, workdir: Path) -> RowResult:
        if row.is_baseline:
            predictions, flops, extra = baselines.predict(row.method, evals, cfg.lead_turns), 0.0, {"method": row.method}
        else:
            generated = fit_generate(row, checkpoint, workdir, pairs)
            predictions, flops, extra = generated.predictions, generated.flops, generated.extra
        shown = [{"id": d.id, "input": _shown(d.dialogue, cfg.input_chars), "reference": d.references,
                  "prediction": p} for d, p in zip(evals, predictions)]
        return RowResult(metrics=rouge(predictions, references), predictions=shown,
                         train_examples=0 if row.is_baseline else len(train), flops=flops, extra=extra)

    result = common.run_models(cfg, title="Summarization (DialogSum test, ROUGE F1, best of 3 references)",
                               out_dir=cfg.summarization, plot=cfg.plot, model_path=cfg.model, rows=cfg.models,
                               metrics=METRICS, primary="rougeL", fit=fit)
    return {**result, "data": {"train": train_file.accounting(), "eval": eval_file.accounting(),
                               "used": {"train": len(train), "eval": len(evals)}}}
