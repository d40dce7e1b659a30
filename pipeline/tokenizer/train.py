"""Building and training the tokenizer with HF `tokenizers`, saved for AutoTokenizer.

Three model families, each with the pre-tokenizer and decoder it was published with:
byte-level BPE (GPT-2), WordPiece (BERT) and Unigram with Metaspace (SentencePiece/T5/ALBERT).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

# Special tokens per objective. Their order fixes their ids (pad = 0), so they are stable
# across vocab sizes and tokenizer families.
SPECIALS = {
    "mlm": {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
            "sep_token": "[SEP]", "mask_token": "[MASK]"},
    "clm": {"pad_token": "<|pad|>", "unk_token": "<|unk|>",
            "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"},
}

# The token appended after every document in the token shards: the document boundary.
DOC_SEPARATOR = {"mlm": "sep_token", "clm": "eos_token"}


def special_tokens(objective: str) -> list[str]:
    return list(dict.fromkeys(SPECIALS[objective].values()))


def build_normalizer(form: str, lowercase: bool, strip_accents: bool) -> normalizers.Normalizer | None:
    steps = []
    if form != "none":
        # Accent stripping needs decomposed characters; NFD then StripAccents is BERT's recipe.
        steps.append(getattr(normalizers, "NFD" if strip_accents else form.upper())())
    if strip_accents:
        steps.append(normalizers.StripAccents())
    if lowercase:
        steps.append(normalizers.Lowercase())
    return normalizers.Sequence(steps) if steps else None


def build_tokenizer(cfg) -> tuple[Tokenizer, trainers.Trainer]:
    specials = special_tokens(cfg.objective)
    unk = SPECIALS[cfg.objective]["unk_token"]
    common = dict(vocab_size=cfg.vocab_size, special_tokens=specials, show_progress=False)
    if cfg.algorithm == "bpe":
        tok = Tokenizer(models.BPE())  # byte-level: every byte is in the alphabet, no unknowns
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(min_frequency=cfg.min_frequency,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), **common)
    elif cfg.algorithm == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token=unk))
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(min_frequency=cfg.min_frequency, **common)
    else:
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(unk_token=unk, **common)
    tok.normalizer = build_normalizer(cfg.normalization, cfg.lowercase, cfg.strip_accents)
    return tok, trainer


def add_post_processor(tok: Tokenizer, objective: str) -> None:
    """MLM: BERT's [CLS] A [SEP] B [SEP] with segment ids, so sentence-pair fine-tuning works.
    CLM: no added tokens (GPT-2 convention); documents are separated by <|endoftext|>."""
    if objective == "mlm":
        cls, sep = SPECIALS["mlm"]["cls_token"], SPECIALS["mlm"]["sep_token"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
            special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))])


def canonicalize(tok: Tokenizer, specials: list[str]) -> Tokenizer:
    """Make the saved vocab independent of Rust HashMap iteration order, which is seeded per
    process. Neither fix changes how text is split:
    - WordPiece is converted from a BPE vocab by iterating a HashMap, so its ids are shuffled;
      WordPiece ids carry no meaning (longest match), so tokens are numbered in sorted order.
    - Unigram's EM sums log-probabilities in HashMap order (scores differ in the last bits),
      and characters that must stay in the vocab get the lowest scores, spaced by 1e-4, in
      HashMap order. Scores are rounded to float32 (what SentencePiece stores) and those
      lowest-scored single characters are sorted before taking the score slots again."""
    spec = json.loads(tok.to_str())
    model = spec["model"]
    if model["type"] == "WordPiece":
        rest = sorted(t for t in model["vocab"] if t not in specials)
        model["vocab"] = {t: i for i, t in enumerate(specials + rest)}
    elif model["type"] == "Unigram":
        unk = model["vocab"][model["unk_id"]][0]
        pieces = [[t, float(np.float32(s))] for t, s in model["vocab"] if t not in specials]
        pieces.sort(key=lambda p: (-p[1], p[0]))
        last_multi = max((i for i, p in enumerate(pieces) if len(p[0]) > 1), default=-1)
        tail = pieces[last_multi + 1:]
        pieces[last_multi + 1:] = [[t, s] for t, (_, s) in zip(sorted(p[0] for p in tail), tail)]
        model["vocab"] = [[t, 0.0] for t in specials] + pieces
        model["unk_id"] = [p[0] for p in model["vocab"]].index(unk)
    return Tokenizer.from_str(json.dumps(spec))


def train(cfg, batches: Iterator[list[str]]) -> Tokenizer:
    tok, trainer = build_tokenizer(cfg)
    tok.train_from_iterator(batches, trainer=trainer)
    tok = canonicalize(tok, special_tokens(cfg.objective))
    add_post_processor(tok, cfg.objective)
    return tok


def save(tok: Tokenizer, objective: str, out: Path) -> PreTrainedTokenizerFast:
    """tokenizer.json + tokenizer_config.json + special_tokens_map.json: AutoTokenizer loads it."""
    # BERT-style models take segment ids; without this, v5 tokenizers omit token_type_ids.
    names = ["input_ids", "token_type_ids", "attention_mask"] if objective == "mlm" else ["input_ids", "attention_mask"]
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_input_names=names, **SPECIALS[objective])
    fast.save_pretrained(str(out))
    return fast
