"""BERT and GPT-2 weights on lmpipe's Transformer, and back.

Tensors are renamed and reshaped, never changed: BERT's separate query/key/value are stacked into
our fused qkv, GPT-2's Conv1D weights (stored input x output) are transposed into Linear ones
(output x input). The logits then agree to float rounding.
"""
from __future__ import annotations

import torch
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

from pipeline.models.transformer import LmpipeConfig, LmpipeForCausalLM, LmpipeForMaskedLM

# Activations by transformers' name; gelu_new is GPT-2's tanh approximation.
FROM_HF_ACT = {"relu": "relu", "gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}
TO_HF_ACT = {"relu": "relu", "gelu": "gelu", "gelu_tanh": "gelu_new"}

# (ours, theirs, transposed): module names whose weight and bias map onto each other. A list of
# theirs is concatenated along the output dimension into ours.
Pairs = list[tuple[str, str | list[str], bool]]


def bert_pairs(layers: int) -> Pairs:
    pairs = [("model.embeddings.tokens", "bert.embeddings.word_embeddings", False),
             ("model.embeddings.positions", "bert.embeddings.position_embeddings", False),
             ("model.embeddings.token_types", "bert.embeddings.token_type_embeddings", False),
             ("model.embeddings.norm", "bert.embeddings.LayerNorm", False),
             ("lm_head.transform", "cls.predictions.transform.dense", False),
             ("lm_head.norm", "cls.predictions.transform.LayerNorm", False),
             ("lm_head.decoder", "cls.predictions.decoder", False)]
    for i in range(layers):
        ours, theirs = f"model.layers.{i}.", f"bert.encoder.layer.{i}."
        pairs += [(ours + "attention.qkv", [theirs + f"attention.self.{n}" for n in ("query", "key", "value")], False),
                  (ours + "attention.out", theirs + "attention.output.dense", False),
                  (ours + "attention_norm", theirs + "attention.output.LayerNorm", False),
                  (ours + "ffn.up", theirs + "intermediate.dense", False),
                  (ours + "ffn.down", theirs + "output.dense", False),
                  (ours + "ffn_norm", theirs + "output.LayerNorm", False)]
    return pairs


def gpt2_pairs(layers: int) -> Pairs:
    pairs = [("model.embeddings.tokens", "transformer.wte", False),
             ("model.embeddings.positions", "transformer.wpe", False),
             ("model.final_norm", "transformer.ln_f", False),
             ("lm_head", "lm_head", False)]
    for i in range(layers):
        ours, theirs = f"model.layers.{i}.", f"transformer.h.{i}."
        pairs += [(ours + "attention_norm", theirs + "ln_1", False),
                  (ours + "attention.qkv", theirs + "attn.c_attn", True),  # q, k, v in this order already
                  (ours + "attention.out", theirs + "attn.c_proj", True),
                  (ours + "ffn_norm", theirs + "ln_2", False),
                  (ours + "ffn.up", theirs + "mlp.c_fc", True),
                  (ours + "ffn.down", theirs + "mlp.c_proj", True)]
    return pairs


def import_state(theirs: dict[str, torch.Tensor], pairs: Pairs) -> dict[str, torch.Tensor]:
    out = {}
    for ours, names, transposed in pairs:
        names = names if isinstance(names, list) else [names]
        for param in ("weight", "bias"):
            keys = [f"{name}.{param}" for name in names]
            if keys[0] in theirs:  # embeddings have no bias
                parts = [theirs[k].T if transposed and param == "weight" else theirs[k] for k in keys]
                out[f"{ours}.{param}"] = torch.cat(parts)
    return out


def export_state(ours: dict[str, torch.Tensor], pairs: Pairs) -> dict[str, torch.Tensor]:
    out = {}
    for mine, names, transposed in pairs:
        names = names if isinstance(names, list) else [names]
        for param in ("weight", "bias"):
            if f"{mine}.{param}" in ours:
                for name, part in zip(names, ours[f"{mine}.{param}"].chunk(len(names))):
                    out[f"{name}.{param}"] = part.T.contiguous() if transposed and param == "weight" else part
    return out


def require(config: LmpipeConfig, family: str, **expected):
    """Export only what the family can express: anything else would change the function."""
    wrong = {k: getattr(config, k) for k, v in expected.items() if getattr(config, k) != v}
    if config.activation not in TO_HF_ACT:
        wrong["activation"] = config.activation
    if wrong:
        raise ValueError(f"not a {family} layout: {wrong} (it needs {expected}, activation in {list(TO_HF_ACT)})")


def config_from_bert(c: BertConfig) -> LmpipeConfig:
    return LmpipeConfig(vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
                        num_attention_heads=c.num_attention_heads, intermediate_size=c.intermediate_size,
                        max_position_embeddings=c.max_position_embeddings, position="learned",
                        activation=FROM_HF_ACT[c.hidden_act], norm_position="post", causal=False,
                        type_vocab_size=c.type_vocab_size, layer_norm_eps=c.layer_norm_eps, bias=True,
                        dropout=c.hidden_dropout_prob, mlm_head_transform=True,
                        initializer_range=c.initializer_range, pad_token_id=c.pad_token_id,
                        tie_word_embeddings=c.tie_word_embeddings)


def from_bert(bert: BertForMaskedLM) -> LmpipeForMaskedLM:
    model = LmpipeForMaskedLM(config_from_bert(bert.config))
    # cls.predictions.bias is the decoder's bias under a second name: the decoder's is taken.
    model.load_state_dict(import_state(bert.state_dict(), bert_pairs(bert.config.num_hidden_layers)))
    return model.train(bert.training)


def to_bert(model: LmpipeForMaskedLM) -> BertForMaskedLM:
    c = model.config
    require(c, "BERT", position="learned", norm_position="post", causal=False, bias=True, mlm_head_transform=True,
            embedding_norm=True)
    if not c.type_vocab_size:
        raise ValueError("not a BERT layout: BERT always has segment embeddings (type_vocab_size >= 1)")
    bert = BertForMaskedLM(BertConfig(
        vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
        num_attention_heads=c.num_attention_heads, intermediate_size=c.intermediate_size,
        hidden_act=TO_HF_ACT[c.activation], hidden_dropout_prob=c.dropout, attention_probs_dropout_prob=c.dropout,
        max_position_embeddings=c.max_position_embeddings, type_vocab_size=c.type_vocab_size,
        initializer_range=c.initializer_range, layer_norm_eps=c.layer_norm_eps, pad_token_id=c.pad_token_id,
        tie_word_embeddings=c.tie_word_embeddings))
    state = export_state(model.state_dict(), bert_pairs(c.num_hidden_layers))
    state["cls.predictions.bias"] = state["cls.predictions.decoder.bias"]
    bert.load_state_dict(state)
    return bert.train(model.training)


def config_from_gpt2(c: GPT2Config) -> LmpipeConfig:
    if not c.scale_attn_weights or c.scale_attn_by_inverse_layer_idx:
        raise ValueError("only GPT-2's standard 1/sqrt(d_k) attention scaling maps onto lmpipe's attention")
    return LmpipeConfig(vocab_size=c.vocab_size, hidden_size=c.n_embd, num_hidden_layers=c.n_layer,
                        num_attention_heads=c.n_head, intermediate_size=c.n_inner or 4 * c.n_embd,
                        max_position_embeddings=c.n_positions, position="learned",
                        activation=FROM_HF_ACT[c.activation_function], norm_position="pre", causal=True,
                        type_vocab_size=0, layer_norm_eps=c.layer_norm_epsilon, bias=True, dropout=c.resid_pdrop,
                        mlm_head_transform=False, initializer_range=c.initializer_range,
                        pad_token_id=c.pad_token_id, bos_token_id=c.bos_token_id, eos_token_id=c.eos_token_id,
                        tie_word_embeddings=c.tie_word_embeddings)


def from_gpt2(gpt2: GPT2LMHeadModel) -> LmpipeForCausalLM:
    model = LmpipeForCausalLM(config_from_gpt2(gpt2.config))
    model.load_state_dict(import_state(gpt2.state_dict(), gpt2_pairs(gpt2.config.n_layer)))
    return model.train(gpt2.training)


def to_gpt2(model: LmpipeForCausalLM) -> GPT2LMHeadModel:
    c = model.config
    require(c, "GPT-2", position="learned", norm_position="pre", causal=True, bias=True, type_vocab_size=0,
            embedding_norm=False)
    gpt2 = GPT2LMHeadModel(GPT2Config(
        vocab_size=c.vocab_size, n_embd=c.hidden_size, n_layer=c.num_hidden_layers, n_head=c.num_attention_heads,
        n_inner=c.intermediate_size, n_positions=c.max_position_embeddings, activation_function=TO_HF_ACT[c.activation],
        resid_pdrop=c.dropout, embd_pdrop=c.dropout, attn_pdrop=c.dropout, layer_norm_epsilon=c.layer_norm_eps,
        initializer_range=c.initializer_range, pad_token_id=c.pad_token_id, bos_token_id=c.bos_token_id,
        eos_token_id=c.eos_token_id, tie_word_embeddings=c.tie_word_embeddings))
    gpt2.load_state_dict(export_state(model.state_dict(), gpt2_pairs(c.num_hidden_layers)))
    return gpt2.train(model.training)
