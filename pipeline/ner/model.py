"""Token classification: a checkpoint's encoder + a linear tag head (AutoModelForTokenClassification),
fine-tuned with the transformers Trainer as pipeline/finetune/train.py does (CPU, bf16 autocast).

Words are tokenized pre-split (`is_split_into_words`) and tagged by their first subword, the BERT
paper's recipe (Devlin et al. 2019, section 5.3): the other subwords and the specials carry label
-100, which the loss ignores. A sentence longer than max_length subwords is truncated; its cut
words are predicted "O", so every word gets a tag, and they are counted.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import (AutoConfig, AutoModelForTokenClassification, DataCollatorForTokenClassification,
                          Trainer, TrainingArguments)

from pipeline.apps.common import FineTune, ModelRow
from pipeline.cost import transformer_flops
from pipeline.env import training_device_args
from pipeline.finetune.models import load_tokenizer
from pipeline.formats.conll import OUTSIDE, Sentence

log = logging.getLogger(__name__)

IGNORE = -100  # the label CrossEntropyLoss skips (transformers' convention)


def _prefix_every_word(node: dict) -> bool:
    """Make a pre-tokenizer mark every pre-split word as preceded by a space: a byte-level BPE
    (the pipeline's tokenizer) or SentencePiece-style Metaspace otherwise tokenizes each word as
    if it began the text ("rejects" -> re/ject/s rather than Ġreject/s), unlike the running text
    it was trained on. True when something changed."""
    kind = node.get("type")
    if kind == "ByteLevel" and not node.get("add_prefix_space"):
        node["add_prefix_space"] = True
        return True
    if kind == "Metaspace" and node.get("prepend_scheme") != "always":
        node["prepend_scheme"] = "always"
        return True
    if kind == "Sequence":
        return any([_prefix_every_word(child) for child in node.get("pretokenizers", [])])
    return False


def words_tokenizer(checkpoint: Path):
    """The checkpoint's tokenizer, set up for pre-split words. transformers' own add_prefix_space
    argument only reaches the GPT-2/RoBERTa classes, not a plain tokenizer.json
    (TokenizersBackend), so the backend's pre-tokenizer is rewritten instead."""
    tokenizer = load_tokenizer(checkpoint)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.pre_tokenizer is None:
        return tokenizer  # WordPiece/BERT: no space marker, nothing to do
    spec = json.loads(backend.to_str())
    if _prefix_every_word(spec["pre_tokenizer"]):
        backend.pre_tokenizer = Tokenizer.from_str(json.dumps(spec)).pre_tokenizer
    return tokenizer


@dataclass
class Encoded:
    features: list[dict]                 # input_ids, attention_mask(, labels) per sentence
    word_ids: list[list[int | None]]     # per subword: its word's index, None for specials
    cut_words: int = 0                   # words past max_length (no subword kept)
    empty_words: int = 0                 # words the tokenizer turned into no subword at all

    @property
    def tokens(self) -> int:
        return sum(len(f["input_ids"]) for f in self.features)


def encode(tokenizer, sentences: list[Sentence], label2id: dict[str, int] | None, max_length: int) -> Encoded:
    """Subword ids; with label2id, labels on each word's first subword and -100 elsewhere."""
    # never past the model's positions (a pipeline tokenizer records them as model_max_length)
    limit = min(max_length, tokenizer.model_max_length)
    batch = tokenizer([s.words for s in sentences], is_split_into_words=True, truncation=True, max_length=limit)
    keep = [k for k in tokenizer.model_input_names if k in batch]
    out = Encoded([], [])
    for i, sentence in enumerate(sentences):
        word_ids = batch.word_ids(i)
        seen = {w for w in word_ids if w is not None}
        # a full-length row lost the words after its last one kept; any other gap had no subword
        kept_to = max(seen) + 1 if len(word_ids) == limit else len(sentence.words)
        out.cut_words += len(sentence.words) - kept_to
        out.empty_words += kept_to - len(seen)
        feature = {k: batch[k][i] for k in keep}
        if label2id is not None:
            previous, labels = None, []
            for w in word_ids:
                labels.append(IGNORE if w is None or w == previous else label2id[sentence.tags[w]])
                previous = w
            feature["labels"] = labels
        out.features.append(feature)
        out.word_ids.append(word_ids)
    return out


def word_tags(logits, word_ids: list[int | None], n_words: int, id2label: dict[int, str]) -> list[str]:
    """One tag per word from its first subword's logits; "O" for a word with no subword."""
    tags = [OUTSIDE] * n_words
    previous = None
    for position, w in enumerate(word_ids):
        if w is not None and w != previous:
            tags[w] = id2label[int(logits[position].argmax())]
        previous = w
    return tags


@torch.no_grad()
def predict_logits(model, tokenizer, features: list[dict], batch_size: int, bf16: bool) -> list[torch.Tensor]:
    """Each feature's logits (its own length, no padding), in the order given. Not
    Trainer.predict: with train_sampling_strategy group_by_length it batches the evaluation set
    in a shuffled length-grouped order too, and returns the rows in that order."""
    model.eval()
    device = next(model.parameters()).device
    collate = DataCollatorForTokenClassification(tokenizer)
    out = []
    for start in range(0, len(features), batch_size):
        batch = features[start:start + batch_size]
        inputs = {k: v.to(device) for k, v in collate([{k: v for k, v in f.items() if k != "labels"}
                                                        for f in batch]).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(**inputs).logits.float().cpu()
        out.extend(row[:len(f["input_ids"])] for row, f in zip(logits, batch))
    return out


def build_model(checkpoint: Path, init: str, labels: list[str], seed: int):
    """The encoder with a fresh tag head; `init: random` re-draws the encoder too (same config).
    fp32 whatever the checkpoint was saved in: fine-tuning updates are too small for bf16."""
    config = AutoConfig.from_pretrained(str(checkpoint), num_labels=len(labels),
                                        id2label=dict(enumerate(labels)), label2id={t: i for i, t in enumerate(labels)})
    torch.manual_seed(seed)
    if init == "random":
        return AutoModelForTokenClassification.from_config(config, dtype=torch.float32)
    return AutoModelForTokenClassification.from_pretrained(str(checkpoint), config=config, dtype=torch.float32)


@dataclass
class Tagged:
    tags: list[list[str]]    # predicted, one per word of each evaluation sentence
    flops: float = 0.0
    extra: dict = field(default_factory=dict)


def fit_tagger(row: ModelRow, checkpoint: Path, workdir: Path, train: list[Sentence], evaluation: list[Sentence],
               labels: list[str], ft: FineTune, max_length: int) -> Tagged:
    """Fine-tune on `train`, then tag `evaluation`."""
    tokenizer = words_tokenizer(checkpoint)
    label2id = {t: i for i, t in enumerate(labels)}
    model = build_model(checkpoint, row.init, labels, ft.seed)
    train_set = encode(tokenizer, train, label2id, max_length)
    # predicted longest first, so each batch pads little; put back in order below
    order = sorted(range(len(evaluation)), key=lambda i: -len(evaluation[i].words))
    eval_set = encode(tokenizer, [evaluation[i] for i in order], None, max_length)
    args = TrainingArguments(
        output_dir=str(workdir), seed=ft.seed, learning_rate=ft.lr, num_train_epochs=ft.epochs,
        per_device_train_batch_size=ft.batch_size,
        warmup_steps=ft.warmup_ratio, weight_decay=ft.weight_decay,  # warmup_steps < 1 is a ratio
        train_sampling_strategy="group_by_length",  # similar lengths per batch: CoNLL runs 1 to 124 words
        eval_strategy="no", save_strategy="no", logging_strategy="epoch", report_to="none", disable_tqdm=True,
        **training_device_args(ft.precision == "bf16"))
    trainer = Trainer(model=model, args=args, processing_class=tokenizer,
                      data_collator=DataCollatorForTokenClassification(tokenizer),
                      train_dataset=train_set.features)
    trainer.train()
    logits = predict_logits(trainer.model, tokenizer, eval_set.features, 4 * ft.batch_size, ft.precision == "bf16")
    tagged: list[list[str]] = [[] for _ in evaluation]
    for row_logits, word_ids, i in zip(logits, eval_set.word_ids, order):
        tagged[i] = word_tags(row_logits, word_ids, len(evaluation[i].words), model.config.id2label)
    shutil.rmtree(workdir, ignore_errors=True)
    flops = transformer_flops(model.num_parameters(only_trainable=True, exclude_embeddings=True),
                              model.num_parameters(exclude_embeddings=True),
                              train_tokens=train_set.tokens * trainer.state.epoch, forward_tokens=eval_set.tokens)
    extra = {"epochs_run": float(trainer.state.epoch),
             "train_loss": round(float(trainer.state.log_history[-1].get("train_loss", float("nan"))), 4),
             "train_words_cut": train_set.cut_words, "eval_words_cut": eval_set.cut_words,
             "eval_words_without_subword": eval_set.empty_words}
    if eval_set.cut_words or eval_set.empty_words:
        log.info("%s: %d eval words past max_length %d and %d with no subword were tagged O", row.name,
                 eval_set.cut_words, max_length, eval_set.empty_words)
    return Tagged(tagged, flops, extra)
