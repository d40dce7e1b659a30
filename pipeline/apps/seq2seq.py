"""What the summarization and translation stages share: the seq2seq model row, the decoding
settings, and `fit_generate`, which builds a row's generator (seq2seq_models.py), trains it on
the (source, target) pairs with transformers' Trainer and decodes the evaluation sources with
`generate`, batched. Token layouts: seq2seq_data.py.
"""
from __future__ import annotations

import logging
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from transformers import GenerationConfig, Trainer, TrainingArguments

from pipeline.apps.common import check_rows, FineTune, ModelRow
from pipeline.apps.seq2seq_data import Collator, decoder_only_example, encode, prompt_batch
from pipeline.apps.seq2seq_models import Built, decoder_only, encoder_decoder
from pipeline.cost import transformer_flops
from pipeline.config import check_ranges
from pipeline.env import training_device_args

log = logging.getLogger(__name__)
# EncoderDecoderModel warns on every loss that transformers 4.12 moved the loss out of the
# decoder: a note about old checkpoints, not about this code
warnings.filterwarnings("ignore", message="Version v4.12.0 introduces a better way", category=FutureWarning)


@dataclass
class Seq2seqRow(ModelRow):
    architecture: Literal["encoder-decoder", "decoder-only"] = "encoder-decoder"
    # Rothe et al.'s BERT2BERT-share: encoder and decoder tied (a BERT-family checkpoint only)
    share_weights: bool = False
    method: str = ""  # a baseline row's method (the stage lists them); empty for the others

    def __post_init__(self):
        super().__post_init__()
        if self.is_baseline and not self.method:
            raise ValueError(f"{self.name}: a baseline row needs a method")
        if self.method and not self.is_baseline:
            raise ValueError(f"{self.name}: method {self.method!r} is for `checkpoint: baseline` rows")
        if self.share_weights and self.architecture != "encoder-decoder":
            raise ValueError(f"{self.name}: share_weights ties an encoder to a decoder: encoder-decoder only")


def check_seq2seq_rows(rows: list[Seq2seqRow], methods: tuple[str, ...] | list[str]) -> None:
    """A stage's rows: unique names (common.check_rows), every baseline's method one it knows."""
    check_rows(rows)
    for row in rows:
        if row.is_baseline and row.method not in methods:
            raise ValueError(f"models: {row.name}: method {row.method!r} unknown (known: {', '.join(methods)})")


@dataclass
class Decoding:
    """`generate`'s settings (deterministic: beam search, or greedy with num_beams 1)."""
    num_beams: int = 4
    length_penalty: float = 1.0      # > 1 favours longer beams (exponent on the length)
    max_new_tokens: int = 48
    min_new_tokens: int = 1          # an empty prediction scores nothing and says nothing
    no_repeat_ngram_size: int = 3    # 0: off; undertrained decoders loop without it
    batch_size: int = 32             # evaluation sources per generate call

    def __post_init__(self):
        checks = {"num_beams": self.num_beams >= 1, "max_new_tokens": self.max_new_tokens >= 1,
                  "min_new_tokens": 0 <= self.min_new_tokens <= self.max_new_tokens,
                  "no_repeat_ngram_size": self.no_repeat_ngram_size >= 0, "batch_size": self.batch_size >= 1}
        check_ranges(self, checks)


@dataclass
class Seq2seqData:
    """One stage's inputs to every neural row."""
    train_sources: list[str]
    train_targets: list[str]
    eval_sources: list[str]
    source_max_length: int           # tokens, [CLS] source [SEP]
    target_max_length: int           # tokens, target [SEP]
    train: FineTune = field(default_factory=FineTune)
    decoding: Decoding = field(default_factory=Decoding)


@dataclass
class Generated:
    predictions: list[str]
    flops: float
    extra: dict


def build(row: Seq2seqRow, checkpoint: Path, data: Seq2seqData) -> Built:
    random_init = row.init == "random"
    if row.architecture == "decoder-only":
        return decoder_only(checkpoint, random_init, data.train.seed)
    # a random BERT decoder learns positions for the longest target it reads or writes
    positions = max(data.target_max_length, data.decoding.max_new_tokens) + 2
    return encoder_decoder(checkpoint, random_init, row.share_weights, positions, data.train.seed)


def _train(built: Built, examples: list[dict], hp: FineTune, workdir: Path) -> Trainer:
    args = TrainingArguments(
        output_dir=str(workdir), seed=hp.seed, learning_rate=hp.lr, num_train_epochs=hp.epochs,
        per_device_train_batch_size=hp.batch_size, warmup_steps=hp.warmup_ratio,  # < 1: a ratio
        weight_decay=hp.weight_decay, save_strategy="no", eval_strategy="no", logging_strategy="epoch",
        report_to="none", disable_tqdm=True, remove_unused_columns=False,
        **training_device_args(hp.precision == "bf16"))
    trainer = Trainer(model=built.model, args=args, data_collator=Collator(built.specials.pad),
                      train_dataset=examples)
    trainer.train()
    return trainer


def _generation_config(built: Built, d: Decoding) -> GenerationConfig:
    s = built.specials
    return GenerationConfig(num_beams=d.num_beams, length_penalty=d.length_penalty, max_new_tokens=d.max_new_tokens,
                            min_new_tokens=d.min_new_tokens, no_repeat_ngram_size=d.no_repeat_ngram_size,
                            early_stopping=d.num_beams > 1, do_sample=False, decoder_start_token_id=s.start,
                            bos_token_id=s.start, eos_token_id=s.end, pad_token_id=s.pad)


def generate(built: Built, sources: list[list[int]], decoding: Decoding, decoder_only_model: bool) -> list[list[int]]:
    """The generated token ids per source (the prompt or decoder-start removed), in the sources'
    order. Batches hold sources of similar length, so little of each is padding."""
    model, config = built.model.eval(), _generation_config(built, decoding)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out: dict[int, list[int]] = {}
    for at in range(0, len(order), decoding.batch_size):
        batch = order[at:at + decoding.batch_size]
        inputs = prompt_batch([sources[i] for i in batch], built.specials.pad, left=decoder_only_model)
        with torch.no_grad():
            ids = model.generate(**inputs, generation_config=config)
        skip = inputs["input_ids"].shape[1] if decoder_only_model else 1  # the prompt / decoder start
        for i, row in zip(batch, ids.tolist()):
            row = row[skip:]
            out[i] = row[:row.index(built.specials.end)] if built.specials.end in row else row
    return [[t for t in out[i] if t != built.specials.pad] for i in range(len(sources))]


def fit_generate(row: Seq2seqRow, checkpoint: Path, workdir: Path, data: Seq2seqData) -> Generated:
    """Train `row` on data's pairs, then generate for data's evaluation sources."""
    start = time.perf_counter()
    built = build(row, checkpoint, data)
    tok, specials, only = built.tokenizer, built.specials, row.architecture == "decoder-only"
    train = encode(tok, specials, data.train_sources, data.train_targets, data.source_max_length,
                   data.target_max_length)
    evals = encode(tok, specials, data.eval_sources, None, data.source_max_length, data.target_max_length)
    examples = [decoder_only_example(s, t) if only else {"input_ids": s, "labels": t}
                for s, t in zip(train.sources, train.targets)]
    trainer = _train(built, examples, row.finetune(data.train), workdir)
    trained = time.perf_counter()
    ids = generate(built, evals.sources, data.decoding, only)
    predictions = [tok.decode(r, skip_special_tokens=True).strip() for r in ids]
    shutil.rmtree(workdir, ignore_errors=True)

    epochs, beams = trainer.state.epoch, data.decoding.num_beams
    src_tokens, tgt_tokens = sum(map(len, train.sources)), sum(map(len, train.targets))
    eval_src, generated = sum(map(len, evals.sources)), sum(len(r) + 1 for r in ids)  # + the closing [SEP]
    model = built.model
    if only:  # prompt and target through one stack; every beam carries the prompt
        n = model.num_parameters(exclude_embeddings=True)
        flops = transformer_flops(n, n, (src_tokens + tgt_tokens) * epochs, (eval_src + generated) * beams)
    else:  # the encoder reads each source once, the decoder runs once per target token and beam
        n_enc = model.encoder.num_parameters(exclude_embeddings=True)
        n_dec = model.decoder.num_parameters(exclude_embeddings=True)
        flops = (transformer_flops(n_enc, n_enc, src_tokens * epochs, eval_src)
                 + transformer_flops(n_dec, n_dec, tgt_tokens * epochs, generated * beams))
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    extra = {"architecture": row.architecture, "variant": built.variant, "transferred": round(built.transferred, 3),
             "epochs_run": float(epochs), "train_loss_last_epoch": round(losses[-1], 3) if losses else None,
             "cut_sources": {"train": train.cut_sources, "eval": evals.cut_sources},
             "cut_targets": train.cut_targets, "train_time_s": round(trained - start, 1),
             "decode_time_s": round(time.perf_counter() - trained, 1)}
    log.info("%s: %s, %.0f%% of the weights from the checkpoint, last-epoch loss %s", row.name, built.variant,
             100 * built.transferred, extra["train_loss_last_epoch"])
    return Generated(predictions, flops, extra)
