"""Summed losses (not means), so the caller can divide by the token count of the whole step
across micro-batches and processes: the result is then independent of how the step is split."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.pretrain.data import IGNORE


def loss_sums(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of LM losses over predicted tokens, sum of sentence-pair losses over sequences)."""
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "token_type_ids")}
    out = model(**inputs)
    logits = out.logits if hasattr(out, "logits") else out.prediction_logits
    lm = F.cross_entropy(logits.flatten(0, 1).float(), batch["labels"].flatten(),
                         ignore_index=IGNORE, reduction="sum")
    if "pair_label" not in batch:
        return lm, torch.zeros((), device=lm.device)
    pair = F.cross_entropy(out.seq_relationship_logits.float(), batch["pair_label"], reduction="sum")
    return lm, pair


def target_count(batch: dict[str, torch.Tensor]) -> int:
    return int((batch["labels"] != IGNORE).sum())
