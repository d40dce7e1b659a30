"""Tokenizer stage parameters (params.yaml `tokenizer:` section)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class Config:
    curated: str = "data/curated"          # input: paths.curated
    tokenizer: str = "data/tokenizer"      # output: paths.tokenizer (AutoTokenizer directory)
    tokens: str = "data/tokens"            # output: paths.tokens (binary shards + index.json)
    input_glob: str = "docs/*.parquet"     # the kept documents, relative to `curated`
    # (`model` is paths.model.) Byte-level BPE by default, as RoBERTa pairs it with MLM: it is
    # the one HF trainer whose output does not depend on hash order. WordPiece's trainer numbers
    # the `##` continuation symbols in HashMap order, which breaks ties between equally frequent
    # merges differently from run to run, so its last few vocab entries can change.
    algorithm: Literal["bpe", "wordpiece", "unigram"] = "bpe"
    objective: Literal["mlm", "clm"] = "mlm"  # picks the special tokens; must match pretrain's
    vocab_size: int = 8192
    min_frequency: int = 2                 # BPE/WordPiece: merges seen fewer times are dropped
    normalization: Literal["none", "nfc", "nfkc", "nfd"] = "nfc"
    lowercase: bool = False
    strip_accents: bool = False
    train_max_chars: int = 20_000_000      # sample cap for training (0 = whole train split)
    val_fraction: float = 0.02             # documents held out (by id hash) for validation loss
    shard_tokens: int = 100_000_000        # tokens per .bin shard (~200 MB as uint16)
    # Repeat factor per source name or glob in the train stream (pipeline/tokenizer/mixture.py);
    # unnamed sources keep 1.0.
    mixture: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vocab_size < 256 + 8:
            raise ValueError(f"vocab_size: {self.vocab_size} is too small (>= 264: bytes + specials)")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction: {self.val_fraction} must be in (0, 0.5)")
        if bad := [k for k, f in self.mixture.items() if f < 0]:
            raise ValueError(f"mixture.{bad[0]}: a repeat factor must be >= 0")
        if self.train_max_chars < 0 or self.min_frequency < 1 or self.shard_tokens < 1:
            raise ValueError("train_max_chars, min_frequency, shard_tokens: must be positive")
