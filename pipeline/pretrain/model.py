"""The network: a transformers config class sized from params, randomly initialized."""
from __future__ import annotations

import torch
from transformers import (BertConfig, BertForMaskedLM, BertForPreTraining, GPT2Config, GPT2LMHeadModel,
                          LlamaConfig, LlamaForCausalLM, ModernBertConfig, ModernBertForMaskedLM,
                          PreTrainedModel, XLNetConfig, XLNetLMHeadModel)

from pipeline.models import LmpipeConfig, LmpipeForCausalLM, LmpipeForMaskedLM
from pipeline.pretrain import electra
from pipeline.pretrain.data import plm_predictions
from pipeline.pretrain.electra import ReplacedTokenDetection


def glu_intermediate(a) -> int:
    """A gated (SwiGLU/GeGLU) MLP has three matrices: 8/3 x hidden keeps it the size of a 4x MLP."""
    return a.intermediate_size or 64 * round(8 * a.hidden_size / 3 / 64)


# The embedding and decoder matrices are sized up to a multiple of 64 so their matmuls tile
# GPU tensor cores whole (nanoGPT's 50,257 -> 50,304 took ~25% off its step). The extra rows are
# never input or target tokens (masking draws random tokens below the tokenizer's size); the
# softmax learns to give them no mass. The default 8,192 and cpu-1h 16,384 are multiples already.
VOCAB_MULTIPLE = 64


def padded_vocab(vocab_size: int) -> int:
    return -(-vocab_size // VOCAB_MULTIPLE) * VOCAB_MULTIPLE


def build_model(cfg, vocab_size: int, specials) -> PreTrainedModel | ReplacedTokenDetection:
    """The untrained network for `cfg` over a tokenizer of `vocab_size` tokens."""
    a = cfg.arch
    vocab_size = padded_vocab(vocab_size)
    if a.family == "electra":
        return electra.build(cfg, vocab_size, specials)
    if a.family == "xlnet":
        # Two-stream relative attention (XLNet has no sdpa path). No recurrence: every window
        # stands alone, so no memory is kept in training (mem_len) or evaluation (use_mems_eval).
        config = XLNetConfig(vocab_size=vocab_size, d_model=a.hidden_size, n_layer=a.layers, n_head=a.heads,
                             d_inner=a.intermediate_size or 4 * a.hidden_size, dropout=a.dropout,
                             attn_type="bi", mem_len=None, use_mems_eval=False, pad_token_id=specials.pad,
                             bos_token_id=specials.cls, eos_token_id=specials.sep,
                             # our tokenizer puts [CLS] first and pads on the right: XLNet's default
                             # "last" would classify from a pad token
                             summary_type="first")
        return XLNetLMHeadModel(config)
    if a.family == "lmpipe":
        return build_lmpipe(cfg, vocab_size, specials)
    common = dict(vocab_size=vocab_size, pad_token_id=specials.pad, attn_implementation="sdpa")
    if a.family == "bert":
        config = BertConfig(hidden_size=a.hidden_size, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                            intermediate_size=a.intermediate_size or 4 * a.hidden_size,
                            hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout,
                            max_position_embeddings=cfg.seq_len, type_vocab_size=2, **common)
        if cfg.pair_objective == "none":
            # trained through sparse.SparseMLM, which scores the masked rows only (BertForMaskedLM
            # itself ignores the flag and returns every token's logits)
            config.sparse_prediction = True
            return BertForMaskedLM(config)
        return BertForPreTraining(config)  # the NSP/SOP head (and the pooler under it) only when trained
    if a.family == "modernbert":
        # Pre-LN, rotary positions, GeGLU, no biases (Warner et al. 2024). On this corpus it leaves
        # the MLM unigram plateau (~7.2 nats) within ~100 steps where post-LN BERT with learned
        # positions was still on it after 400 (bench/README.md). Sparse prediction runs the
        # decoder on the masked tokens only: 1.8x BERT's tokens/s at 4 x 256, vocab 8192.
        config = ModernBertConfig(hidden_size=a.hidden_size, num_hidden_layers=a.layers,
                                  num_attention_heads=a.heads, intermediate_size=glu_intermediate(a),
                                  max_position_embeddings=cfg.seq_len, layer_types=["full_attention"] * a.layers,
                                  attention_dropout=a.dropout, mlp_dropout=a.dropout, embedding_dropout=a.dropout,
                                  cls_token_id=specials.cls, sep_token_id=specials.sep, bos_token_id=specials.cls,
                                  eos_token_id=specials.sep, sparse_prediction=True,
                                  # no sentence-level objective trains [CLS]: classify from the mean
                                  classifier_pooling="mean", **common)
        return ModernBertForMaskedLM(config)
    if a.family == "gpt2":
        config = GPT2Config(n_embd=a.hidden_size, n_layer=a.layers, n_head=a.heads, n_inner=a.intermediate_size or None,
                            n_positions=cfg.seq_len, resid_pdrop=a.dropout, embd_pdrop=a.dropout,
                            attn_pdrop=a.dropout, bos_token_id=specials.sep, eos_token_id=specials.sep, **common)
        return GPT2LMHeadModel(config)
    config = LlamaConfig(hidden_size=a.hidden_size, intermediate_size=glu_intermediate(a), num_hidden_layers=a.layers,
                         num_attention_heads=a.heads, num_key_value_heads=a.kv_heads or a.heads,
                         max_position_embeddings=cfg.seq_len, attention_dropout=a.dropout,
                         tie_word_embeddings=True, bos_token_id=specials.sep, eos_token_id=specials.sep, **common)
    return LlamaForCausalLM(config)


def build_lmpipe(cfg, vocab_size: int, specials) -> LmpipeForMaskedLM | LmpipeForCausalLM:
    """The project's own Transformer (pipeline/models/transformer.py): an encoder for mlm (with
    BERT's segment embeddings and MLM head transform), a decoder for clm; `arch` picks the blocks."""
    a, causal = cfg.arch, cfg.objective == "clm"
    config = LmpipeConfig(vocab_size=vocab_size, hidden_size=a.hidden_size, num_hidden_layers=a.layers,
                          num_attention_heads=a.heads, max_position_embeddings=cfg.seq_len,
                          intermediate_size=glu_intermediate(a) if a.activation == "geglu"
                          else a.intermediate_size or 4 * a.hidden_size,
                          position=a.position, activation=a.activation, norm_position=a.norm_position,
                          causal=causal, type_vocab_size=0 if causal else 2, mlm_head_transform=not causal,
                          sparse_prediction=not causal,  # loss.py scores the labelled positions only
                          embedding_norm=True,  # for pre-LN too, as ModernBERT (LmpipeConfig.embedding_norm)
                          # as for ModernBERT: no sentence-level objective trains [CLS], so an
                          # encoder classifies from the mean (GLUE-6 38.4 with [CLS], 3 seeds)
                          classifier_pooling="last" if causal else "mean",
                          dropout=a.dropout, pad_token_id=specials.pad,
                          bos_token_id=specials.sep if causal else specials.cls, eos_token_id=specials.sep)
    return (LmpipeForCausalLM if causal else LmpipeForMaskedLM)(config)


def matmul_params(model: torch.nn.Module) -> int:
    """Parameters that take part in a matmul per token: all but the position and segment
    embedding tables (lookups) and XLNet's query-stream input (one vector, broadcast). The token
    embedding counts once, for the tied output layer."""
    lookups = ("position_embeddings", "token_type_embeddings", "wpe", "mask_emb",
               "embeddings.positions.", "embeddings.token_types.")  # the last two: family lmpipe
    return sum(p.numel() for n, p in model.named_parameters() if not any(k in n for k in lookups))


def exported(model: torch.nn.Module) -> PreTrainedModel:
    """The network the stage saves: ELECTRA's discriminator, or the model itself."""
    return model.discriminator if isinstance(model, ReplacedTokenDetection) else model


def sparse_head_params(model: torch.nn.Module) -> int:
    """Parameters of an MLM head that runs on the predicted tokens only (dense + tied decoder;
    0 when the head runs on every token): the MLMs sparse.SparseMLM trains, ELECTRA's generator,
    XLNet's query stream."""
    if isinstance(model, ReplacedTokenDetection):
        c = model.generator.config  # dense: width -> embedding, decoder: embedding -> vocab
        return c.vocab_size * c.embedding_size + c.hidden_size * c.embedding_size
    if getattr(model.config, "sparse_prediction", False):
        return model.config.vocab_size * model.config.hidden_size + model.config.hidden_size ** 2
    if isinstance(model, XLNetLMHeadModel):  # the tied decoder alone, on the query stream's rows
        return model.config.vocab_size * model.config.d_model
    return 0


def xlnet_train_flops_per_token(model: XLNetLMHeadModel, cfg) -> float:
    """What transformers' XLNet runs per token, forward + backward (matmuls; tests check it
    against torch's FlopCounterMode). T = seq_len, d = hidden, L layers, K = plm_predictions
    query rows per window (padding rows cost the same), p = K / T.
    Weights, from 6 N (N as matmul_params, on every token):
    - the LM head (tied decoder) runs on the query rows only: 6 p x head instead of 6 x head;
    - the query stream runs each layer's q and output projections and FFN (Q in all) on its
      rows: + 6 p Q;
    - the relative-position key projection `r` runs on 2T relative positions per window (bi
      attention: T down to -T), and they are constants, so only its weight gradient: 2 x 4 R
      instead of 6 R;
    - the last layer's content stream feeds only its keys and values to the query stream: its
      q, output projection and FFN (Q / L) run forward only, - 4 Q / L.
    Attention, per stream and layer, forward: 2 T d for the scores against the content keys,
    4 T d against the 2T relative positions, 2 T d for the values. transformers scatters the
    query stream's K rows onto the T positions (target_mapping) and runs the full T x T core
    for it too; the scatter and the gather back cost 2 K d each forward, 8 p T d with their
    backward (target_mapping needs no gradient). So 24 T d per stream and layer with the
    backward, less the last layer's content backward, 16 T d: 8 T d (L (6 + p) - 2).
    The segment term (two relative segment classes, ~1/(2 d_head) of the scores) is ignored."""
    a, t = cfg.arch, cfg.seq_len
    p = plm_predictions(cfg) / t
    head = sparse_head_params(model)
    query = sum(x.numel() for n, x in model.named_parameters()
                if n.endswith((".rel_attn.q", ".rel_attn.o")) or ".ff." in n)
    relative = sum(x.numel() for n, x in model.named_parameters() if n.endswith(".rel_attn.r"))
    weights = 6 * (matmul_params(model) - head) + 6 * p * (head + query) + 2 * relative - 4 * query / a.layers
    return weights + 8 * t * a.hidden_size * (a.layers * (6 + p) - 2)


def train_flops_per_token(model: torch.nn.Module, cfg) -> float:
    """6 N for the weights' forward + backward, plus 12 L d T for attention scores and values
    (PaLM appendix B; nanoGPT's estimate_mfu). With sparse prediction the MLM head (dense + tied
    decoder) runs on the masked share of tokens only.
    ELECTRA: N holds both networks (matmul_params counts the shared token table once, as the
    generator's tied decoder: for the discriminator it is a lookup), every weight runs forward
    and backward on every token except the generator's head, and the attention term has one
    12 L d T per network, each with its own width d. The sampling (one argmax over the vocabulary
    per masked token) is ignored.
    XLNet: xlnet_train_flops_per_token."""
    if isinstance(model, XLNetLMHeadModel):
        return xlnet_train_flops_per_token(model, cfg)
    widths = [cfg.arch.hidden_size]
    if isinstance(model, ReplacedTokenDetection):
        widths.append(model.generator.config.hidden_size)
    attention = 12 * cfg.arch.layers * sum(widths) * cfg.seq_len
    head = sparse_head_params(model)
    if not head:
        return 6 * matmul_params(model) + attention
    return 6 * (matmul_params(model) - head) + 6 * head * cfg.mlm_probability + attention
