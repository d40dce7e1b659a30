"""Summed losses (not means), so the caller can divide by the count of the whole step across
micro-batches and processes: the result is then independent of how the step is split.

Terms, each summed over its own unit and divided by that unit's count in the step:
    lm        LM loss over the predicted tokens (mlm, clm, plm; electra: the generator's MLM loss)
    pair      NSP/SOP loss over the sequences
    disc      electra: the discriminator's BCE over every token
    disc_acc  electra: its correct predictions (reported, not trained)
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pipeline.pretrain.data import IGNORE
from pipeline.pretrain.electra import ReplacedTokenDetection


def loss_sums(model: torch.nn.Module, batch: dict[str, torch.Tensor],
              rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The summed terms of the batch. `rng`: ELECTRA's sampling generator (None: torch's global
    one, which checkpoints save, like dropout's)."""
    inner = getattr(model, "module", model)  # DDP wraps the model
    if isinstance(inner, ReplacedTokenDetection):
        return model(**batch, rng=rng)  # through the wrapper, so that DDP sees the forward
    if "predict_at" in batch:  # sparse.SparseMLM: the decoder and the loss in one
        return {"lm": model(input_ids=batch["input_ids"], predict_at=batch["predict_at"], labels=batch["labels"])}
    # plm: XLNet's query stream gives logits (B, K, V) for the K target_mapping rows, whose
    # labels (B, K) are IGNORE on padding rows; the other models give them for every token.
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "token_type_ids", "perm_mask", "target_mapping")}
    out = model(**inputs)
    logits = (out.logits if hasattr(out, "logits") else out.prediction_logits).flatten(0, 1)
    labels = batch["labels"].flatten()
    sums = {"lm": F.cross_entropy(logits.float(), labels, ignore_index=IGNORE, reduction="sum")}
    if "pair_label" in batch:
        sums["pair"] = F.cross_entropy(out.seq_relationship_logits.float(), batch["pair_label"], reduction="sum")
    return sums


def counts(batch: dict[str, torch.Tensor]) -> dict[str, int]:
    """What each term's sum is divided by (windows have no padding: every position is a token;
    the labelled positions are the predicted tokens, whether labels are per token or, for plm,
    per target_mapping row)."""
    tokens, sequences = batch["input_ids"].numel(), batch["input_ids"].shape[0]
    return {"lm": int((batch["labels"] != IGNORE).sum()), "pair": sequences, "disc": tokens, "disc_acc": tokens}


def weights(cfg) -> dict[str, float]:
    """The trained terms and their weights in the objective; other terms are only reported."""
    return {"lm": 1.0, "pair": 1.0, "disc": cfg.electra.disc_weight}


def headline(means: dict[str, float], cfg) -> float:
    """The logged `loss`: the LM loss, or for ELECTRA the objective it minimizes (gen + lambda disc)."""
    if cfg.objective == "electra":
        return means["lm"] + cfg.electra.disc_weight * means["disc"]
    return means["lm"]


def val_metrics(means: dict[str, float], cfg) -> dict[str, float]:
    """Held-out metrics (pretrain_val.tsv columns): loss and the LM perplexity (for MLM and
    ELECTRA's generator: over the masked tokens); ELECTRA adds its terms one by one."""
    out = {"val_loss": headline(means, cfg), "val_ppl": math.exp(min(means["lm"], 50.0))}
    if cfg.objective == "electra":
        out.update(val_gen_loss=means["lm"], val_disc_loss=means["disc"], val_disc_acc=means["disc_acc"])
    return out
