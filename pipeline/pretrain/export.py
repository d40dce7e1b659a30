"""The output: `save_pretrained` model (safetensors) + its tokenizer, plus the loss curves."""
from __future__ import annotations

import inspect
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase

from pipeline import cards
from pipeline.artifacts import write_text_atomic

# The Hub's pipeline tag and the Auto class of each objective's export (see save_model).
TAG_AND_LOADER = {"mlm": ("fill-mask", "AutoModelForMaskedLM"), "clm": ("text-generation", "AutoModelForCausalLM"),
                  "plm": ("text-generation", "AutoModelForCausalLM"),
                  "electra": ("feature-extraction", "AutoModelForPreTraining")}

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


def write_card(model: torch.nn.Module, cfg, history, out: Path) -> None:
    """README.md beside the weights: what pretraining knows (the report's card adds GLUE)."""
    step, val = history.val[-1] if history.val else (cfg.max_steps, {})
    tag, loader = TAG_AND_LOADER[cfg.objective]
    lines = [f"{type(model).__name__}, {sum(p.numel() for p in model.parameters()):,} parameters, pretrained by lmpipe "
             f"with the `{cfg.objective}` objective: {cfg.max_steps:,} steps of {cfg.batch_size} x {cfg.seq_len} "
             f"tokens ({cfg.precision}).",
             f"Validation loss {val['val_loss']:.4f} at step {step:,}." if "val_loss" in val else "",
             f"Load it with `{loader}`, or fine-tune it with `AutoModelForSequenceClassification` (`lmpipe finetune`)."]
    card = cards.checkpoint_card(f"lmpipe {cfg.arch.family} ({cfg.objective})", [line for line in lines if line], tag)
    card.save(out / "README.md")


def write_curves(history, tokens_per_step: int) -> None:
    """The curves; the training one also with the tokens seen after each step, the loss plot's
    second axis (the validation curve's steps are a subset of its steps)."""
    write_text_atomic(LOSS_TSV, "step\tloss\tlr\ttokens\n" + "".join(
        f"{s}\t{loss:.6f}\t{lr:.6e}\t{s * tokens_per_step}\n" for s, loss, lr in history.train))
    columns = list(history.val[0][1]) if history.val else ["val_loss", "val_ppl"]
    write_text_atomic(VAL_TSV, "\t".join(["step", *columns]) + "\n" + "".join(
        f"{s}\t" + "\t".join(f"{val[k]:.4f}" if k.endswith("_ppl") else f"{val[k]:.6f}" for k in columns) + "\n"
        for s, val in history.val))
