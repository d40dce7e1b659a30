"""The output: `save_pretrained` model (safetensors) + its tokenizer, plus the loss curves."""
from __future__ import annotations

import inspect
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase

from pipeline.artifacts import write_text_atomic

LOSS_TSV = "plots/pretrain_loss.tsv"
VAL_TSV = "plots/pretrain_val.tsv"


def save_model(model: torch.nn.Module, tok: PreTrainedTokenizerBase, seq_len: int, out: Path) -> None:
    """Loadable with AutoModelForMaskedLM / AutoModelForCausalLM (also XLNet's LM head) / (ELECTRA's
    discriminator) AutoModelForPreTraining, with AutoModelForSequenceClassification, and with
    AutoTokenizer. XLNet keeps token_type_ids: its relative segment encoding reads them."""
    model.save_pretrained(str(out))  # safetensors; tied embeddings stored once
    tok.model_max_length = seq_len   # the longest input the position embeddings cover
    if "token_type_ids" not in inspect.signature(model.forward).parameters:  # ModernBERT, decoders
        tok.model_input_names = [n for n in tok.model_input_names if n != "token_type_ids"]
    tok.save_pretrained(str(out))


def write_curves(history) -> None:
    write_text_atomic(LOSS_TSV, "step\tloss\tlr\n" + "".join(
        f"{s}\t{loss:.6f}\t{lr:.6e}\n" for s, loss, lr in history.train))
    columns = list(history.val[0][1]) if history.val else ["val_loss", "val_ppl"]
    write_text_atomic(VAL_TSV, "\t".join(["step", *columns]) + "\n" + "".join(
        f"{s}\t" + "\t".join(f"{val[k]:.4f}" if k.endswith("_ppl") else f"{val[k]:.6f}" for k in columns) + "\n"
        for s, val in history.val))
