"""Summed losses (not means), so the caller can divide by the token count of the whole step
across micro-batches and processes: the result is then independent of how the step is split."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.pretrain.data import IGNORE


def loss_sums(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of LM losses over predicted tokens, sum of sentence-pair losses over sequences)."""
    config = getattr(model, "module", model).config  # DDP wraps the model
    if getattr(config, "sparse_prediction", False):
        # ModernBERT scores only the labelled (masked) positions, in order, when given the labels.
        out = model(input_ids=batch["input_ids"], labels=batch["labels"])
        labels = batch["labels"].flatten()
        logits, labels = out.logits, labels[labels != IGNORE]
    else:
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "token_type_ids")}
        out = model(**inputs)
        logits = (out.logits if hasattr(out, "logits") else out.prediction_logits).flatten(0, 1)
        labels = batch["labels"].flatten()
    lm = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE, reduction="sum")
    if "pair_label" not in batch:
        return lm, torch.zeros((), device=lm.device)
    pair = F.cross_entropy(out.seq_relationship_logits.float(), batch["pair_label"], reduction="sum")
    return lm, pair


def target_count(batch: dict[str, torch.Tensor]) -> int:
    return int((batch["labels"] != IGNORE).sum())
