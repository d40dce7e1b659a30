"""The network: a transformers config class sized from params, randomly initialized."""
from __future__ import annotations

import torch
from transformers import (BertConfig, BertForMaskedLM, BertForPreTraining, GPT2Config, GPT2LMHeadModel,
                          LlamaConfig, LlamaForCausalLM, PreTrainedModel)


def build_model(cfg, vocab_size: int, specials) -> PreTrainedModel:
    a = cfg.arch
    common = dict(vocab_size=vocab_size, pad_token_id=specials.pad, attn_implementation="sdpa")
    if a.family == "bert":
        config = BertConfig(hidden_size=a.hidden_size, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                            intermediate_size=a.intermediate_size or 4 * a.hidden_size,
                            hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout,
                            max_position_embeddings=cfg.seq_len, type_vocab_size=2, **common)
        # The NSP/SOP head (and the pooler under it) only exists when it is trained.
        return (BertForMaskedLM if cfg.pair_objective == "none" else BertForPreTraining)(config)
    if a.family == "gpt2":
        config = GPT2Config(n_embd=a.hidden_size, n_layer=a.layers, n_head=a.heads, n_inner=a.intermediate_size or None,
                            n_positions=cfg.seq_len, resid_pdrop=a.dropout, embd_pdrop=a.dropout,
                            attn_pdrop=a.dropout, bos_token_id=specials.sep, eos_token_id=specials.sep, **common)
        return GPT2LMHeadModel(config)
    # Llama's SwiGLU MLP has three matrices: 8/3 x hidden keeps its size equal to a 4x MLP.
    inter = a.intermediate_size or 64 * round(8 * a.hidden_size / 3 / 64)
    config = LlamaConfig(hidden_size=a.hidden_size, intermediate_size=inter, num_hidden_layers=a.layers,
                         num_attention_heads=a.heads, num_key_value_heads=a.kv_heads or a.heads,
                         max_position_embeddings=cfg.seq_len, attention_dropout=a.dropout,
                         tie_word_embeddings=True, bos_token_id=specials.sep, eos_token_id=specials.sep, **common)
    return LlamaForCausalLM(config)


def matmul_params(model: torch.nn.Module) -> int:
    """Parameters that take part in a matmul per token: all but the position and segment
    embedding tables (lookups). The token embedding counts once, for the tied output layer."""
    lookups = ("position_embeddings", "token_type_embeddings", "wpe")
    return sum(p.numel() for n, p in model.named_parameters() if not any(k in n for k in lookups))


def train_flops_per_token(model: torch.nn.Module, cfg) -> float:
    """6 N for the weights' forward + backward, plus 12 L d T for attention scores and values
    (PaLM appendix B; nanoGPT's estimate_mfu)."""
    return 6 * matmul_params(model) + 12 * cfg.arch.layers * cfg.arch.hidden_size * cfg.seq_len
