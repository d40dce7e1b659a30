"""lmpipe's Transformer (Vaswani et al. 2017) in one file, in nanoGPT's spirit.

One stack covers the families the pipeline trains: post-LN encoders with learned positions and
segment embeddings (BERT), pre-LN causal decoders (GPT-2), and the later variants (rotary
positions, GeGLU, no biases). The names of the modules are plain so that convert.py can map BERT's
and GPT-2's weights onto them by renaming tensors only.
"""

import math
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import GenerationMixin, PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import (BaseModelOutput, CausalLMOutput, MaskedLMOutput,
                                           QuestionAnsweringModelOutput, SequenceClassifierOutput,
                                           TokenClassifierOutput)
from transformers.utils import can_return_tuple


@strict
class LmpipeConfig(PreTrainedConfig):
    """The defaults are BERT-base; GPT-2 is position="learned", activation="gelu_tanh",
    norm_position="pre", causal=True, type_vocab_size=0, mlm_head_transform=False."""
    model_type = "lmpipe"

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072  # the FFN's inner width (of each of GeGLU's two branches)
    max_position_embeddings: int = 512
    position: Literal["learned", "rotary"] = "learned"
    rope_theta: float | int = 10000.0
    activation: Literal["relu", "gelu", "gelu_tanh", "geglu"] = "gelu"
    norm_position: Literal["pre", "post"] = "post"
    causal: bool = False  # decoder (causal mask, next-token LM) or encoder (bidirectional, masked LM)
    type_vocab_size: int = 2  # segment (sentence A/B) embeddings; 0: none
    layer_norm_eps: float = 1e-12
    bias: bool = True  # in every Linear and LayerNorm but the causal LM head (GPT-2 has none there)
    dropout: float | int = 0.1  # embeddings, attention probabilities, residual branches, classifier
    mlm_head_transform: bool = True  # BERT's dense + act + LayerNorm before the MLM decoder
    # LayerNorm on the embedding sum. None: post-LN stacks only (BERT; GPT-2's pre-LN has none).
    # ModernBERT normalizes its pre-LN stack's embeddings too: the 0.02-scale token embeddings are
    # otherwise small next to what the first blocks' random weights add to the residual stream.
    embedding_norm: bool | None = None
    # With labels, score only the labelled (masked) positions: the logits are then (n_masked, vocab)
    # in order, as ModernBERT's sparse_prediction. Same loss; the vocabulary projection over every
    # token is most of a small model's MLM head FLOPs.
    sparse_prediction: bool = False
    classifier_pooling: Literal["cls", "mean", "last"] | None = None  # None: "last" if causal else "cls"
    initializer_range: float = 0.02
    pad_token_id: int | None = 0
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        if self.embedding_norm is None:
            self.embedding_norm = self.norm_position == "post"
        if self.classifier_pooling is None:
            # In a decoder only the last token has seen the whole sequence (GPT2ForSequenceClassification).
            self.classifier_pooling = "last" if self.causal else "cls"
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of "
                             f"num_attention_heads {self.num_attention_heads}")
        if self.position == "rotary" and (self.hidden_size // self.num_attention_heads) % 2:
            raise ValueError("rotary positions rotate pairs of channels: the head size must be even")


def layer_norm(config: LmpipeConfig) -> nn.LayerNorm:
    return nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps, bias=config.bias)


# GeGLU gates with GELU; gelu_tanh is GPT-2's gelu_new (the tanh approximation of GELU).
ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": partial(F.gelu, approximate="tanh"), "geglu": F.gelu}


class LmpipeEmbeddings(nn.Module):
    """x_t = E[token_t] + P[t] + S[segment_t]. With rotary positions there is no P: positions
    enter the attention scores instead."""

    def __init__(self, config: LmpipeConfig):
        super().__init__()
        self.tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.positions = (nn.Embedding(config.max_position_embeddings, config.hidden_size)
                          if config.position == "learned" else None)
        self.token_types = nn.Embedding(config.type_vocab_size, config.hidden_size) if config.type_vocab_size else None
        self.norm = layer_norm(config) if config.embedding_norm else None
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """position_ids: each token's position, for left-padded prompts in generate() (rotary
        attention needs none: its scores depend on s - t only, which padding does not shift)."""
        x = self.tokens(input_ids)
        if self.positions is not None:
            x = x + self.positions(torch.arange(input_ids.shape[1], device=input_ids.device)
                                   if position_ids is None else position_ids)
        if self.token_types is not None:
            x = x + self.token_types(torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids)
        if self.norm is not None:
            x = self.norm(x)
        return self.dropout(x)


def rotate(x: torch.Tensor, theta: float) -> torch.Tensor:
    """RoPE (Su et al. 2021): channels i and i + d/2 of the token at position t turn by the angle
    t * theta^(-2i/d), so that q_s . k_t depends on the positions through s - t only."""
    seq_len, d = x.shape[-2:]
    inv_freq = theta ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    angles = torch.outer(torch.arange(seq_len, device=x.device, dtype=torch.float32), inv_freq).repeat(1, 2)
    x1, x2 = x.chunk(2, dim=-1)
    return x * angles.cos().to(x.dtype) + torch.cat((-x2, x1), dim=-1) * angles.sin().to(x.dtype)


class LmpipeAttention(nn.Module):
    """MultiHead(X) = Concat(head_1..head_h) W^O with head_i = softmax(Q_i K_i^T / sqrt(d_k) + M) V_i,
    Q, K, V = X W^Q, X W^K, X W^V in one matmul; M is -inf where a query may not see a key."""

    def __init__(self, config: LmpipeConfig):
        super().__init__()
        self.heads = config.num_attention_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=config.bias)
        self.out = nn.Linear(config.hidden_size, config.hidden_size, bias=config.bias)
        self.out.residual_output = True  # see _init_weights
        self.rope_theta = config.rope_theta if config.position == "rotary" else None
        self.causal = config.causal
        self.dropout_p = config.dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The output, and with output_attentions the (batch, heads, query, key) probabilities."""
        batch, seq_len, width = x.shape
        # (batch, seq, 3 * width) -> three (batch, heads, seq, d_k)
        q, k, v = self.qkv(x).view(batch, seq_len, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        if self.rope_theta is not None:
            q, k = rotate(q, self.rope_theta), rotate(k, self.rope_theta)
        dropout_p = self.dropout_p if self.training else 0.0
        probs = None
        if output_attentions:  # SDPA does not return its probabilities: the same product, written out
            y, probs = explicit_attention(q, k, v, mask, self.causal, dropout_p)
        else:
            # softmax(QK^T/sqrt(d_k))V; without padding a decoder's mask is SDPA's own causal one.
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal and mask is None,
                                               dropout_p=dropout_p)
        return self.out(y.transpose(1, 2).reshape(batch, seq_len, width)), probs


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                       causal: bool, dropout_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(d_k) + M) V as SDPA computes it (mask: True where a key is visible,
    as visible_keys; None: causal or none), and the probabilities before dropout."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is None and causal:
        mask = torch.ones(scores.shape[-2:], dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = scores.softmax(-1)
    return F.dropout(probs, dropout_p) @ v, probs


class LmpipeFeedForward(nn.Module):
    """FFN(x) = act(x W1 + b1) W2 + b2, applied to each position alone. GeGLU (Shazeer 2020):
    (gelu(x W) * (x V)) W2, with W and V stacked in W1."""

    def __init__(self, config: LmpipeConfig):
        super().__init__()
        self.gated = config.activation == "geglu"
        inner = config.intermediate_size
        self.up = nn.Linear(config.hidden_size, 2 * inner if self.gated else inner, bias=config.bias)
        self.down = nn.Linear(inner, config.hidden_size, bias=config.bias)
        self.down.residual_output = True  # see _init_weights
        self.act = ACTIVATIONS[config.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.up(x)
        if self.gated:
            gate, h = h.chunk(2, dim=-1)
            return self.down(self.act(gate) * h)
        return self.down(self.act(h))


class LmpipeLayer(nn.Module):
    """Post-LN (BERT): x = LN(x + Sublayer(x)). Pre-LN (GPT-2): x = x + Sublayer(LN(x)), which
    keeps an un-normalized identity path from the embeddings to the output and trains deep stacks
    without warm-up tricks."""

    def __init__(self, config: LmpipeConfig):
        super().__init__()
        self.pre_norm = config.norm_position == "pre"
        self.attention = LmpipeAttention(config)
        self.attention_norm = layer_norm(config)
        self.ffn = LmpipeFeedForward(config)
        self.ffn_norm = layer_norm(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The block's output, and the attention probabilities with output_attentions."""
        if self.pre_norm:
            y, probs = self.attention(self.attention_norm(x), mask, output_attentions)
            x = x + self.dropout(y)
            return x + self.dropout(self.ffn(self.ffn_norm(x))), probs
        y, probs = self.attention(x, mask, output_attentions)
        x = self.attention_norm(x + self.dropout(y))
        return self.ffn_norm(x + self.dropout(self.ffn(x))), probs


def visible_keys(attention_mask: torch.Tensor | None, causal: bool) -> torch.Tensor | None:
    """(batch, 1, seq, seq) True where a query may attend to a key: not to padding, and in a decoder
    not to later tokens. None without padding: SDPA then applies the causal mask itself."""
    if attention_mask is None:
        return None
    seq_len, device = attention_mask.shape[1], attention_mask.device
    keep = attention_mask.bool()[:, None, None, :]
    if causal:
        keep = keep & torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()
    # A left-padded decoder's padding queries see no key at all, and a softmax over nothing is NaN:
    # let every token see itself (this changes the outputs at padding positions only).
    return keep | torch.eye(seq_len, dtype=torch.bool, device=device)


class LmpipePreTrainedModel(PreTrainedModel):
    config_class = LmpipeConfig
    base_model_prefix = "model"
    _input_embed_layer = "tokens"  # LmpipeModel.embeddings.tokens
    _no_split_modules = ["LmpipeLayer"]
    _supports_sdpa = True  # attention always runs through F.scaled_dot_product_attention

    def _init_weights(self, module: nn.Module):
        """Weights ~ N(0, initializer_range), biases 0 (BERT, GPT-2); LayerNorms start as the identity.
        The projections that write into the residual stream (attention W^O, the FFN's W_2) get
        std / sqrt(2 L), as GPT-2 and ModernBERT do: the stream then holds a sum of 2 L such terms
        whose variance does not grow with depth."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            std = self.config.initializer_range
            if getattr(module, "residual_output", False):
                std /= math.sqrt(2 * self.config.num_hidden_layers)
            init.normal_(module.weight, mean=0.0, std=std)
        if isinstance(module, (nn.Linear, nn.LayerNorm)) and module.bias is not None:
            init.zeros_(module.bias)
        if isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)


class LmpipeModel(LmpipePreTrainedModel):
    """Embeddings, then num_hidden_layers blocks: the hidden states every head builds on."""

    def __init__(self, config: LmpipeConfig):
        super().__init__(config)
        self.embeddings = LmpipeEmbeddings(config)
        self.layers = nn.ModuleList(LmpipeLayer(config) for _ in range(config.num_hidden_layers))
        # Pre-LN leaves the residual stream un-normalized: one last LayerNorm (GPT-2's ln_f).
        self.final_norm = layer_norm(config) if config.norm_position == "pre" else None
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, output_attentions: bool | None = None,
                position_ids: torch.Tensor | None = None, **kwargs) -> BaseModelOutput:
        """output_attentions (default config.output_attentions): also return each layer's
        (batch, heads, query, key) attention probabilities, as transformers' models do."""
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        x = self.embeddings(input_ids, token_type_ids, position_ids)
        mask = visible_keys(attention_mask, self.config.causal)
        attentions = []
        for layer in self.layers:
            x, probs = layer(x, mask, output_attentions)
            attentions.append(probs)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return BaseModelOutput(last_hidden_state=x, attentions=tuple(attentions) if output_attentions else None)


class LmpipeMaskedLMHead(nn.Module):
    """Scores over the vocabulary: [LN(act(h W_t))] E^T + b, the decoder tied to the token embedding E."""

    def __init__(self, config: LmpipeConfig):
        super().__init__()
        has_transform = config.mlm_head_transform
        self.transform = nn.Linear(config.hidden_size, config.hidden_size, bias=config.bias) if has_transform else None
        self.act = ACTIVATIONS[config.activation]
        self.norm = layer_norm(config) if has_transform else None
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=config.bias)

    def transformed(self, h: torch.Tensor) -> torch.Tensor:
        """What the decoder reads: LN(act(h W_t)), or h without the transform."""
        return self.norm(self.act(self.transform(h))) if self.transform is not None else h

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transformed(h))


class LmpipeForMaskedLM(LmpipePreTrainedModel):
    """The masked-LM objective (Devlin et al. 2019): maximize sum_{t in M} log p(x_t | x with the
    positions M masked). labels hold the original tokens at M and -100 elsewhere."""
    _tied_weights_keys = {"lm_head.decoder.weight": "model.embeddings.tokens.weight"}

    def __init__(self, config: LmpipeConfig):
        super().__init__(config)
        self.model = LmpipeModel(config)
        self.lm_head = LmpipeMaskedLMHead(config)
        self.post_init()

    # The output layer is the head's decoder (resize_token_embeddings swaps it)
    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, decoder: nn.Linear):
        self.lm_head.decoder = decoder

    @can_return_tuple
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **kwargs) -> MaskedLMOutput:
        hidden = self.model(input_ids, attention_mask, token_type_ids, return_dict=True).last_hidden_state
        if labels is not None and self.config.sparse_prediction:
            scored = labels != -100
            hidden, labels = hidden[scored], labels[scored]
        logits = self.lm_head(hidden)
        loss = None if labels is None else self.loss_function(logits, labels, self.config.vocab_size, **kwargs)
        return MaskedLMOutput(loss=loss, logits=logits)


class LmpipeForCausalLM(LmpipePreTrainedModel, GenerationMixin):
    """p(x) = prod_t p(x_t | x_<t): the logits at t score token t+1. Pass labels=input_ids: the loss
    shifts them inside (like GPT2LMHeadModel), -100 marks tokens not to predict. generate() works
    without a KV cache (each step reruns the prefix: fine for the applications' short outputs);
    it passes position_ids, so left-padded prompts keep their learned positions."""
    _tied_weights_keys = {"lm_head.weight": "model.embeddings.tokens.weight"}

    def __init__(self, config: LmpipeConfig):
        if not config.causal:
            raise ValueError("LmpipeForCausalLM needs causal=True: an encoder sees the tokens it should predict")
        super().__init__(config)
        self.model = LmpipeModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()
        self.generation_config.use_cache = False  # no KV cache: generate() feeds the whole prefix

    @can_return_tuple
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, **kwargs) -> CausalLMOutput:
        hidden = self.model(input_ids, attention_mask, token_type_ids, position_ids=position_ids,
                            return_dict=True).last_hidden_state
        logits = self.lm_head(hidden)
        loss = None if labels is None else self.loss_function(logits, labels, self.config.vocab_size, **kwargs)
        return CausalLMOutput(loss=loss, logits=logits)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None, how: str) -> torch.Tensor:
    """One vector per sequence: the first token ([CLS]), the mean over the tokens, or the last token."""
    if how == "cls":
        return hidden[:, 0]
    mask = torch.ones(hidden.shape[:2], device=hidden.device) if attention_mask is None else attention_mask
    if how == "mean":
        mask = mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * mask).sum(1) / mask.sum(1)
    # The last non-padding token, with padding on either side (GPT2ForSequenceClassification).
    last = (torch.arange(hidden.shape[1], device=hidden.device) * mask).argmax(-1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


class LmpipeClassifier(LmpipePreTrainedModel):
    """The encoder and a linear layer (num_labels outputs) after dropout: the two classifiers' body."""

    def __init__(self, config: LmpipeConfig):
        super().__init__(config)
        self.model = LmpipeModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()


class LmpipeForSequenceClassification(LmpipeClassifier):
    """A linear layer on the pooled sequence. The loss follows config.problem_type: MSE when
    num_labels == 1 (regression), else cross-entropy (BERT's rule)."""

    @can_return_tuple
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **kwargs) -> SequenceClassifierOutput:
        hidden = self.model(input_ids, attention_mask, token_type_ids, return_dict=True).last_hidden_state
        logits = self.classifier(self.dropout(pool(hidden, attention_mask, self.config.classifier_pooling)))
        loss = None if labels is None else self.loss_function(labels, logits, self.config, **kwargs)
        return SequenceClassifierOutput(loss=loss, logits=logits)


class LmpipeForTokenClassification(LmpipeClassifier):
    """A linear layer on every token's hidden state; labels of -100 are ignored."""

    @can_return_tuple
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **kwargs) -> TokenClassifierOutput:
        hidden = self.model(input_ids, attention_mask, token_type_ids, return_dict=True).last_hidden_state
        logits = self.classifier(self.dropout(hidden))
        loss = None if labels is None else self.loss_function(logits, labels, self.config, **kwargs)
        return TokenClassifierOutput(loss=loss, logits=logits)


class LmpipeForQuestionAnswering(LmpipePreTrainedModel):
    """Extractive QA: two scores per token, for the answer span starting and ending there."""

    def __init__(self, config: LmpipeConfig):
        super().__init__(config)
        self.model = LmpipeModel(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, start_positions: torch.Tensor | None = None,
                end_positions: torch.Tensor | None = None, **kwargs) -> QuestionAnsweringModelOutput:
        hidden = self.model(input_ids, attention_mask, token_type_ids, return_dict=True).last_hidden_state
        start_logits, end_logits = self.qa_outputs(hidden).unbind(-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = self.loss_function(start_logits, end_logits, start_positions, end_positions, **kwargs)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits)
