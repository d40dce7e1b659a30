"""Span-extraction heads: a checkpoint's encoder + a start/end classifier over its tokens
(AutoModelForQuestionAnswering, Devlin et al. 2019 section 4.2), the features and decoding of
transformers' examples/pytorch/question-answering (run_qa.py, utils_qa.py).

Features: question and context as a pair, truncation="only_second" with `doc_stride` tokens of
overlap between windows (return_overflowing_tokens), offset mappings to map tokens back to
characters. A training window that does not contain the whole answer is labelled with the CLS
(first) token, as run_qa does. Questions are cut at `max_query_length` tokens first, as BERT's
run_squad.py does, so a long one cannot leave the context no room.

Decoding (postprocess_qa_predictions): per window the n_best start and n_best end logits; a pair
is a candidate when both tokens are in the context, start <= end, and it spans at most
max_answer_length tokens; its score is start + end logit. The best candidate over all windows of a
question is its answer (SQuAD v1.1: every question has one, so CLS is never chosen).
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import (AutoConfig, AutoModelForQuestionAnswering, DataCollatorWithPadding, Trainer,
                          TrainingArguments)

from pipeline.apps.common import FineTune
from pipeline.cost import transformer_flops
from pipeline.env import training_device_args
from pipeline.errors import InputError
from pipeline.finetune.models import load_tokenizer
from pipeline.formats.squad import Example

log = logging.getLogger(__name__)

Offsets = list[tuple[int, int] | None]  # per token: its characters in the context, None outside it


@dataclass
class Windows:
    """The features of a list of examples: model inputs, and per window its example and offsets."""
    inputs: list[dict]             # input_ids, attention_mask (+ token_type_ids, labels when training)
    example: list[int]             # index of the window's example
    offsets: list[Offsets]

    @property
    def tokens(self) -> int:
        return sum(len(f["input_ids"]) for f in self.inputs)


@dataclass
class Shape:
    max_length: int
    doc_stride: int
    max_query_length: int


def cut_questions(tokenizer, questions: list[str], max_tokens: int) -> tuple[list[str], int]:
    """Questions left-stripped (run_qa: some SQuAD questions start with spaces) and cut after
    `max_tokens` tokens; also how many were cut."""
    questions = [q.lstrip() for q in questions]
    enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    out, cut = [], 0
    for q, offsets in zip(questions, enc["offset_mapping"]):
        if len(offsets) > max_tokens:
            q, cut = q[:offsets[max_tokens - 1][1]], cut + 1
        out.append(q)
    return out, cut


def check_shape(tokenizer, positions: int | None, shape: Shape, checkpoint: Path) -> int:
    """The window length: max_length, at most the model's positions (its config's
    max_position_embeddings; a pipeline tokenizer also records them as model_max_length); the
    context must keep more room than the overlap."""
    length = min(shape.max_length, tokenizer.model_max_length, positions or shape.max_length)
    room = length - shape.max_query_length - tokenizer.num_special_tokens_to_add(pair=True)
    if room <= shape.doc_stride:
        raise InputError(f"{checkpoint}: windows of {length} tokens leave {room} for the context, not more than "
                         f"qa.doc_stride {shape.doc_stride}; lower doc_stride or max_query_length")
    return length


def featurize(tokenizer, examples: list[Example], shape: Shape, length: int, labels: bool) -> tuple[Windows, int]:
    """The windows of `examples` (labels: start/end positions of the first answer, run_qa's
    choice); also the number of questions cut."""
    questions, cut = cut_questions(tokenizer, [e.question for e in examples], shape.max_query_length)
    enc = tokenizer(questions, [e.context for e in examples], truncation="only_second", max_length=length,
                    stride=shape.doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    windows = Windows([], [], [])
    for i, example_index in enumerate(enc["overflow_to_sample_mapping"]):
        seq = enc.sequence_ids(i)
        offsets = [o if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq)]
        features = {k: enc[k][i] for k in enc if k not in ("offset_mapping", "overflow_to_sample_mapping")}
        if labels:
            features["start_positions"], features["end_positions"] = _label(
                examples[example_index], offsets, features["input_ids"], tokenizer.cls_token_id)
        windows.inputs.append(features)
        windows.example.append(example_index)
        windows.offsets.append(offsets)
    return windows, cut


def _label(example: Example, offsets: Offsets, input_ids: list[int], cls_id: int | None) -> tuple[int, int]:
    """Token positions of the answer's first and last characters; CLS when it is not all inside."""
    start_char = example.starts[0]
    end_char = start_char + len(example.answers[0])
    inside = [t for t, o in enumerate(offsets) if o is not None]
    if not (offsets[inside[0]][0] <= start_char and offsets[inside[-1]][1] >= end_char):
        cls = input_ids.index(cls_id) if cls_id in input_ids else 0
        return cls, cls
    start = max(t for t in inside if offsets[t][0] <= start_char)
    end = min(t for t in inside if offsets[t][1] >= end_char)
    return start, end


def decode(windows: Windows, start_logits: np.ndarray, end_logits: np.ndarray, n_examples: int,
           n_best: int, max_answer_length: int) -> list[tuple[int, int] | None]:
    """The best (start char, end char) per example over all its windows; None if no window
    had a valid span. Logit rows may be padded past a window's length (Trainer pads with -100)."""
    best: list[tuple[float, int, int] | None] = [None] * n_examples
    for w, offsets in enumerate(windows.offsets):
        starts, ends = start_logits[w][:len(offsets)], end_logits[w][:len(offsets)]
        top_starts = np.argsort(-starts, kind="stable")[:n_best]
        top_ends = np.argsort(-ends, kind="stable")[:n_best]
        for s in top_starts:
            for e in top_ends:
                if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                    continue
                score = float(starts[s] + ends[e])
                current = best[windows.example[w]]
                if current is None or score > current[0]:
                    best[windows.example[w]] = (score, offsets[s][0], offsets[e][1])
    return [None if b is None else (b[1], b[2]) for b in best]


def build_model(path: Path, config, init: str, seed: int):
    """fp32 weights whatever the checkpoint was saved in (see pipeline/finetune/models.py); an
    MLM checkpoint has no span head, which starts random (transformers' load report says so)."""
    torch.manual_seed(seed)
    try:
        if init == "random":
            return AutoModelForQuestionAnswering.from_config(config, dtype=torch.float32)
        return AutoModelForQuestionAnswering.from_pretrained(str(path), config=config, dtype=torch.float32)
    except ValueError as exc:  # transformers: "Unrecognized configuration class ..."
        raise InputError(f"{path}: no question-answering head for model type "
                         f"{config.model_type!r}: {str(exc).splitlines()[0]}") from None


@dataclass
class Fitted:
    spans: list[tuple[int, int] | None]   # per evaluation example
    epochs: float
    train_windows: int
    eval_windows: int
    questions_cut: int
    train_loss: float
    flops: float


def fit_predict(checkpoint: Path, init: str, train: list[Example], evaluation: list[Example], shape: Shape,
                hp: FineTune, n_best: int, max_answer_length: int, workdir: Path) -> Fitted:
    tokenizer = load_tokenizer(checkpoint)
    if not tokenizer.is_fast:  # offset mappings come from the Rust tokenizers only
        raise InputError(f"{checkpoint}: its tokenizer is not a fast tokenizer: no offset mappings for QA")
    config = AutoConfig.from_pretrained(str(checkpoint))
    length = check_shape(tokenizer, getattr(config, "max_position_embeddings", None), shape, checkpoint)
    train_windows, cut_train = featurize(tokenizer, train, shape, length, labels=True)
    eval_windows, cut_eval = featurize(tokenizer, evaluation, shape, length, labels=False)
    model = build_model(checkpoint, config, init, hp.seed)
    args = TrainingArguments(
        output_dir=str(workdir), seed=hp.seed, learning_rate=hp.lr, num_train_epochs=hp.epochs,
        per_device_train_batch_size=hp.batch_size, per_device_eval_batch_size=2 * hp.batch_size,
        warmup_steps=hp.warmup_ratio, weight_decay=hp.weight_decay,  # warmup_steps < 1 is a ratio
        eval_strategy="no", save_strategy="no", logging_strategy="epoch", report_to="none",
        disable_tqdm=True, **training_device_args(hp.precision == "bf16"))
    trainer = Trainer(model=model, args=args, processing_class=tokenizer,
                      data_collator=DataCollatorWithPadding(tokenizer), train_dataset=train_windows.inputs)
    loss = trainer.train().training_loss
    start_logits, end_logits = trainer.predict(eval_windows.inputs).predictions
    spans = decode(eval_windows, start_logits, end_logits, len(evaluation), n_best, max_answer_length)
    flops = transformer_flops(model.num_parameters(only_trainable=True, exclude_embeddings=True),
                              model.num_parameters(exclude_embeddings=True),
                              train_tokens=train_windows.tokens * trainer.state.epoch,
                              forward_tokens=eval_windows.tokens)
    shutil.rmtree(workdir, ignore_errors=True)
    log.info("%d training windows (%.1f epochs, loss %.3f), %d evaluation windows of %d tokens",
             len(train_windows.inputs), trainer.state.epoch, loss, len(eval_windows.inputs), length)
    return Fitted(spans, float(trainer.state.epoch), len(train_windows.inputs), len(eval_windows.inputs),
                  cut_train + cut_eval, float(loss), flops)
