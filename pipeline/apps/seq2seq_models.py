"""Building the generators of the seq2seq stages from one checkpoint, and saying what they got.

encoder-decoder  transformers' EncoderDecoderModel, warm-started as in Rothe et al. 2020
                 ("Leveraging Pre-trained Checkpoints for Sequence Generation Tasks"):
                 bert2bert  an encoder family that transformers can run as a cross-attending decoder
                            (BERT, RoBERTa, ...): both sides from the checkpoint, the decoder with
                            is_decoder + add_cross_attention (only its cross-attention starts
                            random); `share_weights` ties the two sides (their BERT2BERT-share)
                 bert2rnd   any other (ModernBERT, whose transformers 5.24 classes have no
                            cross-attention; a causal LM): the encoder from the checkpoint and a
                            random BERT decoder of the same width, depth and heads on its vocabulary
decoder-only     the source as a prompt, generation after it:
                 causal-lm          a causal checkpoint (pretrain objective clm: llama, gpt2)
                 modernbert-decoder a ModernBERT MLM loaded into ModernBertDecoderForCausalLM (the
                                    Ettin decoder, Weller et al. 2025 "Seq vs Seq"): the same
                                    blocks with a causal mask; the fused Wqkv is split into q/k/v,
                                    so every weight transfers, but it was trained bidirectionally
                 bert-as-decoder    a BERT-family MLM with is_decoder (BertLMHeadModel): every
                                    weight transfers, again trained bidirectionally
                 lmpipe-as-decoder  an lmpipe MLM (pipeline/models) as LmpipeForCausalLM: the
                                    encoder's blocks with causal=True, the output layer tied to
                                    its embeddings; the MLM head's dense + LayerNorm (BERT's
                                    transform) has no place in the causal head and is left out
`init: random` builds the same architecture with fresh weights. Every build reports `transferred`,
the share of the model's parameters that came from the checkpoint (0.0 for random init).
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, BertConfig,
                          BertLMHeadModel, EncoderDecoderConfig, EncoderDecoderModel, ModernBertDecoderConfig,
                          ModernBertDecoderForCausalLM, PreTrainedModel)
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

import pipeline.models  # noqa: F401  registers lmpipe's own Transformer with the Auto classes
from pipeline.models.transformer import LmpipeForCausalLM
from pipeline.errors import ConfigError, InputError
from pipeline.finetune.models import load_tokenizer

log = logging.getLogger(__name__)

CROSS_ATTENTION = ("crossattention", "cross_attn", "encoder_attn")  # module names across families


@dataclass
class Specials:
    """Token ids the generators need: [CLS] starts the decoder (or the prompt), [SEP] ends a
    sequence, [PAD] pads; a causal tokenizer's bos/eos stand in for the first two."""
    start: int
    end: int
    pad: int


@dataclass
class Built:
    model: PreTrainedModel
    tokenizer: object
    specials: Specials
    variant: str          # bert2bert | bert2bert-share | bert2rnd | causal-lm | modernbert-decoder | ...
    transferred: float    # share of the parameters loaded from the checkpoint, 0..1


def specials_of(tokenizer, path: Path) -> Specials:
    start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    end = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if start is None or end is None:
        raise InputError(f"{path}: tokenizer has neither [CLS]/[SEP] nor bos/eos tokens to start and end a sequence")
    return Specials(start, end, tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end)


def _share(model: torch.nn.Module, fresh: set[str]) -> float:
    """Share of the parameters (by count) not in `fresh`, the names that started random."""
    params = dict(model.named_parameters())
    total = sum(p.numel() for p in params.values())
    return 1.0 - sum(params[n].numel() for n in fresh if n in params) / total


def _load(cls, path: Path, **overrides) -> tuple[PreTrainedModel, set[str]]:
    """from_pretrained in fp32 (as finetune: transformers 5 keeps the saved dtype otherwise) and
    the names of the parameters it had to initialise."""
    model, info = cls.from_pretrained(str(path), dtype=torch.float32, output_loading_info=True, **overrides)
    return model, set(info["missing_keys"])


def _with(config, **changes):
    config = copy.deepcopy(config)
    for key, value in changes.items():
        setattr(config, key, value)
    return config


def _can_cross_attend(config) -> bool:
    """transformers has a causal-LM class for the family that grows cross-attention layers
    (checked on a one-layer copy: LlamaForCausalLM, say, accepts the flag and ignores it).
    lmpipe's Transformer has no cross-attention."""
    if config.model_type == "lmpipe":
        return False
    if type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING or not MODEL_FOR_CAUSAL_LM_MAPPING[type(config)].can_generate():
        return False
    model = AutoModelForCausalLM.from_config(_with(config, is_decoder=True, add_cross_attention=True,
                                                   num_hidden_layers=1))
    return any(key in name for name, _ in model.named_modules() for key in CROSS_ATTENTION)


def tie_to_encoder(encoder: PreTrainedModel, decoder: PreTrainedModel) -> int:
    """BERT2BERT-share: the decoder's parameters that the encoder has too (same name and shape
    under the decoder's base model: embeddings, self-attention, FFN) become the encoder's; the
    cross-attention stays the decoder's own. transformers 5 dropped `tie_encoder_decoder`, so
    the tensors are tied here (parameters, not modules: the decoder's attention stays causal).
    Returns the number of tensors tied."""
    shared = dict(encoder.named_parameters())
    tied = 0
    for prefix, module in decoder.base_model.named_modules():
        for name, param in list(module.named_parameters(recurse=False)):
            key = f"{prefix}.{name}" if prefix else name
            if key in shared and shared[key].shape == param.shape:
                setattr(module, name, shared[key])
                tied += 1
    decoder.tie_weights()  # the LM head's decoder follows the (now shared) word embeddings
    return tied


def _random_bert_decoder(enc, specials: Specials, positions: int) -> BertLMHeadModel:
    """Rothe et al.'s RND decoder: BERT blocks of the encoder's width, depth and heads, 4x FFN
    (BERT's ratio; ModernBERT's GeGLU 8/3 x two branches is about the same size)."""
    config = BertConfig(vocab_size=enc.vocab_size, hidden_size=enc.hidden_size,
                        num_hidden_layers=enc.num_hidden_layers, num_attention_heads=enc.num_attention_heads,
                        intermediate_size=4 * enc.hidden_size, max_position_embeddings=positions,
                        is_decoder=True, add_cross_attention=True, pad_token_id=specials.pad,
                        bos_token_id=specials.start, eos_token_id=specials.end)
    return BertLMHeadModel(config)


def encoder_decoder(path: Path, random_init: bool, share_weights: bool, positions: int, seed: int) -> Built:
    """`positions`: what the target side needs (a random BERT decoder learns that many)."""
    tokenizer = load_tokenizer(path)
    specials = specials_of(tokenizer, path)
    config = AutoConfig.from_pretrained(str(path))
    torch.manual_seed(seed)
    warm = _can_cross_attend(config)
    if share_weights and not warm:
        raise ConfigError(f"share_weights: {path} ({config.model_type}) has no cross-attending decoder to tie")
    if random_init:
        encoder, fresh_enc = AutoModel.from_config(config, dtype=torch.float32), None
    else:
        encoder, fresh_enc = _load(AutoModel, path)
    if getattr(encoder, "pooler", None) is not None:  # BERT's [CLS] pooler: unused by a decoder, untrained in an MLM
        encoder.pooler = None
    if warm:
        overrides = dict(is_decoder=True, add_cross_attention=True)
        if random_init:
            decoder, fresh_dec = AutoModelForCausalLM.from_config(_with(config, **overrides), dtype=torch.float32), None
        else:
            decoder, fresh_dec = _load(AutoModelForCausalLM, path, **overrides)
        variant = "bert2bert-share" if share_weights else "bert2bert"
    else:
        decoder, fresh_dec = _random_bert_decoder(config, specials, positions), None
        variant = "bert2rnd"
    if share_weights:
        tie_to_encoder(encoder, decoder)
    ed_config = EncoderDecoderConfig.from_encoder_decoder_configs(encoder.config, decoder.config)
    ed_config.decoder_start_token_id, ed_config.eos_token_id = specials.start, specials.end
    ed_config.pad_token_id, ed_config.vocab_size = specials.pad, decoder.config.vocab_size
    model = EncoderDecoderModel(config=ed_config, encoder=encoder, decoder=decoder)
    if random_init:
        transferred = 0.0
    else:
        fresh = {f"encoder.{n}" for n in fresh_enc} | (
            {f"decoder.{n}" for n in fresh_dec} if fresh_dec is not None
            else {f"decoder.{n}" for n, _ in decoder.named_parameters()})
        transferred = _share(model, fresh)
    return Built(model, tokenizer, specials, variant, transferred)


def modernbert_decoder_config(enc) -> ModernBertDecoderConfig:
    """The Ettin decoder of a ModernBERT encoder's shape; every layer global, as our pretrain builds them."""
    return ModernBertDecoderConfig(
        vocab_size=enc.vocab_size, hidden_size=enc.hidden_size, intermediate_size=enc.intermediate_size,
        num_hidden_layers=enc.num_hidden_layers, num_attention_heads=enc.num_attention_heads,
        hidden_activation=enc.hidden_activation, max_position_embeddings=enc.max_position_embeddings,
        norm_eps=enc.norm_eps, norm_bias=enc.norm_bias, attention_bias=enc.attention_bias, mlp_bias=enc.mlp_bias,
        decoder_bias=enc.decoder_bias, classifier_activation=enc.classifier_activation,
        layer_types=["full_attention"] * enc.num_hidden_layers, rope_parameters=enc.rope_parameters,
        pad_token_id=enc.pad_token_id, bos_token_id=enc.bos_token_id, eos_token_id=enc.eos_token_id,
        cls_token_id=enc.cls_token_id, sep_token_id=enc.sep_token_id, tie_word_embeddings=True)


def modernbert_mlm_to_decoder(mlm_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """ModernBertForMaskedLM's tensors under ModernBertDecoderForCausalLM's names: the same blocks
    except that the fused attention input projection is three (rows q, k, v: ModernBERT views
    Wqkv's output as (3, heads, head_dim)) and the MLM head is called lm_head."""
    out = {}
    for name, tensor in mlm_state.items():
        if name.endswith(".attn.Wqkv.weight"):
            stem = name.removesuffix("Wqkv.weight")
            for part, chunk in zip(("q_proj", "k_proj", "v_proj"), tensor.chunk(3, dim=0)):
                out[f"{stem}{part}.weight"] = chunk
        elif name.startswith("head."):
            out["lm_head." + name.removeprefix("head.")] = tensor
        else:
            out[name] = tensor
    return out


def _modernbert_decoder(path: Path, config, random_init: bool) -> tuple[PreTrainedModel, float]:
    model = ModernBertDecoderForCausalLM(modernbert_decoder_config(config)).float()
    if random_init:
        return model, 0.0
    mlm = AutoModelForMaskedLM.from_pretrained(str(path), dtype=torch.float32)
    mapped = modernbert_mlm_to_decoder(mlm.state_dict())
    target = model.state_dict()
    usable = {n: t for n, t in mapped.items() if n in target and target[n].shape == t.shape}
    model.load_state_dict(usable, strict=False)
    model.tie_weights()
    fresh = {n for n, _ in model.named_parameters() if n not in usable}
    return model, _share(model, fresh)


def _lmpipe_decoder(path: Path, config, random_init: bool) -> tuple[PreTrainedModel, float]:
    model = LmpipeForCausalLM(_with(config, causal=True)).float()
    if random_init:
        return model, 0.0
    mlm = AutoModelForMaskedLM.from_pretrained(str(path), dtype=torch.float32)
    blocks = {n: t for n, t in mlm.state_dict().items() if n.startswith("model.")}
    missing = set(model.load_state_dict(blocks, strict=False).missing_keys)
    model.tie_weights()
    left_out = sum(p.numel() for n, p in mlm.named_parameters() if n.startswith("lm_head.transform")
                   or n.startswith("lm_head.norm") or n == "lm_head.decoder.bias")
    log.info("%s: lmpipe MLM as a causal decoder; the MLM head's transform and bias (%d parameters) left out",
             path, left_out)
    return model, _share(model, missing - {"lm_head.weight"})  # lm_head.weight: the tied embeddings


def decoder_only(path: Path, random_init: bool, seed: int) -> Built:
    tokenizer = load_tokenizer(path)
    specials = specials_of(tokenizer, path)
    config = AutoConfig.from_pretrained(str(path))
    torch.manual_seed(seed)
    causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.architectures or [])
    if config.model_type == "modernbert":
        model, transferred = _modernbert_decoder(path, config, random_init)
        variant = "modernbert-decoder"
    elif config.model_type == "lmpipe" and not config.causal:
        model, transferred = _lmpipe_decoder(path, config, random_init)
        variant = "lmpipe-as-decoder"
    elif type(config) in MODEL_FOR_CAUSAL_LM_MAPPING:
        if not MODEL_FOR_CAUSAL_LM_MAPPING[type(config)].can_generate():  # lmpipe's own: no generate()
            raise ConfigError(f"architecture decoder-only: {path} ({config.model_type}): its causal LM cannot generate")
        overrides = {} if causal else {"is_decoder": True}  # an MLM of the BERT family, causal mask on
        if random_init:
            model = AutoModelForCausalLM.from_config(_with(config, **overrides), dtype=torch.float32)
            transferred = 0.0
        else:
            model, fresh = _load(AutoModelForCausalLM, path, **overrides)
            transferred = _share(model, fresh)
        variant = "causal-lm" if causal else f"{config.model_type}-as-decoder"
    else:
        raise ConfigError(f"architecture decoder-only: {path} ({config.model_type}) has no causal-LM class")
    model.generation_config.pad_token_id = specials.pad
    return Built(model, tokenizer, specials, variant, transferred)
