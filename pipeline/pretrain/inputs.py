"""Loading and cross-checking the tokenizer stage's outputs before any training starts."""
from __future__ import annotations

import hashlib
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from pipeline.errors import ConfigError, InputError
from pipeline.pretrain.data import Specials, read_index


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    if not (path / "tokenizer.json").exists():
        raise InputError(f"{path}/tokenizer.json: not found (run the tokenizer stage first)")
    return AutoTokenizer.from_pretrained(str(path))


def check(cfg, tok: PreTrainedTokenizerBase, tok_dir: Path, tokens_dir: Path) -> dict:
    """The token index, after checking that tokenizer, tokens and model config agree."""
    index = read_index(tokens_dir)
    vocab = len(tok)
    if cfg.arch.vocab_size and cfg.arch.vocab_size != vocab:
        raise ConfigError(f"pretrain.arch.vocab_size: {cfg.arch.vocab_size} does not match the tokenizer "
                          f"in {tok_dir} ({vocab} tokens); set it to 0 to follow the tokenizer")
    sha = hashlib.sha256((tok_dir / "tokenizer.json").read_bytes()).hexdigest()
    if index["vocab_size"] != vocab or index.get("tokenizer_sha256") != sha:
        raise InputError(f"{tokens_dir}/index.json: encoded with another tokenizer (vocab "
                         f"{index['vocab_size']}) than {tok_dir} (vocab {vocab}); rerun the tokenizer stage")
    if index["objective"] != tokenizer_objective(cfg.objective):
        raise ConfigError(f"pretrain.objective: {cfg.objective}, but the tokenizer was built for "
                          f"{index['objective']} (tokenizer.objective); make them agree")
    for split in ("train", "val"):
        if index["splits"][split]["tokens"] == 0:
            raise InputError(f"{tokens_dir}/index.json: the {split} split is empty")
    return index


def tokenizer_objective(objective: str) -> str:
    """The tokenizer an objective needs: ELECTRA masks like MLM ([CLS] ... [SEP], [MASK]), and
    PLM reads the same [CLS] ... [SEP] windows (its targets are hidden by attention, not [MASK])."""
    return "mlm" if objective in ("electra", "plm") else objective


def specials(tok: PreTrainedTokenizerBase, objective: str) -> Specials:
    if tokenizer_objective(objective) == "mlm":
        return Specials(pad=tok.pad_token_id, cls=tok.cls_token_id, sep=tok.sep_token_id,
                        mask=tok.mask_token_id, vocab_size=len(tok))
    return Specials(pad=tok.pad_token_id, sep=tok.eos_token_id, vocab_size=len(tok))
