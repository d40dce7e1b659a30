"""Fine-tune one model on one task with one seed (transformers Trainer), then predict.

Model selection uses a slice held out from train, evaluated after every epoch: the best epoch's
weights are kept and training stops early after `patience` epochs without improvement. The GLUE
dev split is predicted once, with the selected weights, so it stays an unbiased estimate.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import datasets
import numpy as np
from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer, TrainingArguments

from pipeline.artifacts import atomic_dir
from pipeline.cost import transformer_flops
from pipeline.env import training_device_args
from pipeline.finetune import metrics as glue_metrics
from pipeline.finetune.biencoder import PairCollator, build_biencoder, tokenize_sides
from pipeline.finetune.models import build_model, load_tokenizer
from pipeline.glue import STSB_RANGE, Task

log = logging.getLogger(__name__)


@dataclass
class HParams:
    """Per-task fine-tuning hyperparameters; `finetune.train` sets them for every task and
    `finetune.task_train.<task>` overrides single keys for one task."""
    lr: float = 1e-4
    epochs: int = 3
    batch_size: int = 32
    max_length: int = 128
    warmup_ratio: float = 0.1       # share of the steps with linear LR warm-up (BERT recipe)
    weight_decay: float = 0.01
    seeds: list[int] = field(default_factory=lambda: [0])
    max_train_examples: int | None = None  # cap on train examples (CPU budgets); None = all
    heldout_fraction: float = 0.1   # share of train held out for model selection
    heldout_max: int = 1000         # ... at most this many examples
    patience: int = 1               # epochs without held-out improvement before stopping
    # bf16: matmuls under autocast, weights and optimizer state in fp32 (mixed precision)
    precision: Literal["fp32", "bf16"] = "fp32"
    # sentence pairs: `cross` encodes them together (BERT's [CLS] a [SEP] b), `bi` each alone with
    # Sentence-BERT's heads (biencoder.py); single-sentence tasks ignore it
    pair_encoding: Literal["cross", "bi"] = "cross"

    def __post_init__(self):
        checks = {"lr": self.lr > 0, "epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1,
                  "max_length": self.max_length >= 8, "warmup_ratio": 0 <= self.warmup_ratio < 1,
                  "seeds": len(self.seeds) >= 1, "heldout_fraction": 0 < self.heldout_fraction < 1,
                  "heldout_max": self.heldout_max >= 1, "patience": self.patience >= 1,
                  "max_train_examples": self.max_train_examples is None or self.max_train_examples >= 1}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"{bad[0]}: out of range ({getattr(self, bad[0])!r})")


@dataclass
class RunResult:
    heldout_score: float
    epochs_run: float | None             # None: a model without epochs (classical.py)
    train_examples: int
    predictions: dict[str, np.ndarray]   # split -> label ids (classification) or scores (STS-B)
    flops: float = 0.0                   # model FLOPs of the run (cost.transformer_flops); 0: classical


def split_heldout(train: datasets.Dataset, hp: HParams, seed: int) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Shuffle once with the run's seed; the first slice is held out, the cap applies to the rest."""
    shuffled = train.shuffle(seed=seed)
    n_held = max(1, min(hp.heldout_max, round(hp.heldout_fraction * len(train))))
    rest = shuffled.select(range(n_held, len(shuffled)))
    if hp.max_train_examples is not None and len(rest) > hp.max_train_examples:
        rest = rest.select(range(hp.max_train_examples))
    return rest, shuffled.select(range(n_held))


def tokenize(tokenizer, task: Task, batch: dict[str, list[str]], max_length: int):
    """The token ids of a batch of canonical rows (text_a, text_b), as the classifier is trained on."""
    pair = (batch["text_a"], batch["text_b"]) if len(task.tsv_text) > 1 else (batch["text_a"],)
    # never past the model's positions (a pipeline tokenizer records them as model_max_length)
    return tokenizer(*pair, truncation=True, max_length=min(max_length, tokenizer.model_max_length))


def uses_biencoder(task: Task, hp: HParams) -> bool:
    return hp.pair_encoding == "bi" and len(task.tsv_text) > 1


def _encode(ds: datasets.Dataset, tokenizer, task: Task, hp: HParams, labels: bool = True) -> datasets.Dataset:
    """Token ids (padded per batch by the collator); labels dropped for prediction, where test
    splits carry -1."""
    keep = {"label"} if labels else set()
    if uses_biencoder(task, hp):
        encode = lambda batch: tokenize_sides(tokenizer, batch, hp.max_length)  # noqa: E731
    else:
        encode = lambda batch: tokenize(tokenizer, task, batch, hp.max_length)  # noqa: E731
    return ds.map(encode, batched=True,
                  remove_columns=[c for c in ds.column_names if c not in keep], desc=f"tokenize {task.name}")


def save_classifier(model, tokenizer, out: Path) -> None:
    """save_pretrained (safetensors) + the tokenizer: AutoModelForSequenceClassification and
    AutoTokenizer load it. Built in <out>.partial and renamed, so a killed run leaves no half model."""
    with atomic_dir(out, resume=False) as work:
        model.save_pretrained(str(work))
        tokenizer.save_pretrained(str(work))


def _tokens(ds: datasets.Dataset) -> int:
    """Tokens of an encoded split, unpadded (the collator pads each batch to its longest row);
    both sides of a bi-encoder's pairs."""
    return sum(sum(map(len, ds[c])) for c in ds.column_names if c.startswith("input_ids"))


def _to_predictions(task: Task, logits: np.ndarray) -> np.ndarray:
    if task.is_regression:
        return np.clip(logits.reshape(-1), *STSB_RANGE)
    return logits.argmax(-1)


def finetune(task: Task, data: dict[str, datasets.Dataset], checkpoint: Path, init: str,
             hp: HParams, seed: int, workdir: Path, predict_splits: tuple[str, ...],
             save_to: Path | None = None) -> RunResult:
    """`save_to`: keep the selected weights there (save_classifier)."""
    tokenizer = load_tokenizer(checkpoint)
    train, heldout = split_heldout(data["train"], hp, seed)
    bi = uses_biencoder(task, hp)
    model = (build_biencoder if bi else build_model)(checkpoint, init, 1 if task.is_regression else len(task.labels), seed)

    def compute_metrics(pred) -> dict:
        return {"score": glue_metrics.task_score(glue_metrics.compute(
            task.metrics, pred.label_ids, _to_predictions(task, pred.predictions)))}

    args = TrainingArguments(
        output_dir=str(workdir), seed=seed, learning_rate=hp.lr, num_train_epochs=hp.epochs,
        per_device_train_batch_size=hp.batch_size, per_device_eval_batch_size=2 * hp.batch_size,
        warmup_steps=hp.warmup_ratio, weight_decay=hp.weight_decay,  # warmup_steps < 1 is a ratio
        eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch",
        load_best_model_at_end=True, metric_for_best_model="score", greater_is_better=True,
        save_total_limit=1, save_only_model=True, report_to="none", disable_tqdm=True,
        label_names=["labels"] if bi else None,
        **training_device_args(hp.precision == "bf16"))
    train_set, heldout_set = (_encode(ds, tokenizer, task, hp) for ds in (train, heldout))
    trainer = Trainer(
        model=model, args=args, processing_class=tokenizer,
        data_collator=PairCollator(tokenizer) if bi else DataCollatorWithPadding(tokenizer),
        train_dataset=train_set, eval_dataset=heldout_set,
        compute_metrics=compute_metrics,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=hp.patience)])
    trainer.train()
    if save_to is not None:
        save_classifier(trainer.model, tokenizer, save_to)
    best = trainer.state.best_metric
    predict_sets = {s: _encode(data[s], tokenizer, task, hp, labels=False) for s in predict_splits}
    predictions = {s: _to_predictions(task, trainer.predict(ds).predictions) for s, ds in predict_sets.items()}
    evaluations = sum("eval_score" in entry for entry in trainer.state.log_history)  # held-out, once per epoch
    forward_tokens = _tokens(heldout_set) * evaluations + sum(map(_tokens, predict_sets.values()))
    flops = transformer_flops(model.num_parameters(only_trainable=True, exclude_embeddings=True),
                              model.num_parameters(exclude_embeddings=True),
                              train_tokens=_tokens(train_set) * trainer.state.epoch, forward_tokens=forward_tokens)
    shutil.rmtree(workdir, ignore_errors=True)  # epoch checkpoints: only needed for selection
    log.info("%s seed %d: held-out score %.2f after %.1f epochs", task.name, seed, best, trainer.state.epoch)
    return RunResult(heldout_score=float(best), epochs_run=float(trainer.state.epoch), flops=flops,
                     train_examples=len(train), predictions=predictions)
