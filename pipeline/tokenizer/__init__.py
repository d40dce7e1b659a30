"""tokenizer stage: train an HF tokenizer on the curated corpus, encode it into token shards.

Outputs: paths.tokenizer (AutoTokenizer.from_pretrained loads it) and paths.tokens
(`train_*.bin`, `val_*.bin` flat id streams + `index.json`).
"""
from __future__ import annotations

import hashlib
import logging
import time

from pipeline.artifacts import atomic_dir, save_config, write_json
from pipeline.config import resolve_path
from pipeline.errors import InputError
from pipeline.tokenizer import corpus, encode, train
from pipeline.tokenizer.config import Config
from pipeline.tokenizer.mixture import Mixture

__all__ = ["Config", "run"]
log = logging.getLogger(__name__)


def run(cfg: Config) -> dict:
    shards = corpus.find_shards(resolve_path(cfg.curated), cfg.input_glob)
    total_docs = corpus.count_docs(shards)
    log.info("tokenizer: %d shards, %d documents; training %s (vocab %d)",
             len(shards), total_docs, cfg.algorithm, cfg.vocab_size)

    start = time.perf_counter()
    sample = corpus.capped(corpus.iter_train(shards, cfg.val_fraction), cfg.train_max_chars)
    tok = train.train(cfg, sample)
    train_s = time.perf_counter() - start
    if tok.get_vocab_size() < cfg.vocab_size // 2:
        log.warning("tokenizer: learned only %d of %d tokens; the corpus is small for this vocab",
                    tok.get_vocab_size(), cfg.vocab_size)

    with atomic_dir(cfg.tokenizer, resume=False) as tok_dir:
        fast = train.save(tok, cfg.objective, tok_dir)
        save_config(cfg, tok_dir, "lmpipe_tokenizer.yaml")
        tokenizer_sha = hashlib.sha256((tok_dir / "tokenizer.json").read_bytes()).hexdigest()

    vocab = len(fast)
    dtype = encode.token_dtype(vocab)
    separator = fast.convert_tokens_to_ids(getattr(fast, train.DOC_SEPARATOR[cfg.objective]))
    with atomic_dir(cfg.tokens, resume=False) as tokens_dir:
        writers = {s: encode.SplitWriter(tokens_dir, s, dtype, cfg.shard_tokens) for s in ("train", "val")}
        result = encode.encode_corpus(tok, corpus.iter_marked(shards, cfg.val_fraction), writers,
                                      separator, total_docs, Mixture(cfg.mixture))
        splits = result["splits"]
        for split, info in splits.items():
            if info["tokens"] == 0:
                raise InputError(f"{resolve_path(cfg.curated) / cfg.input_glob}: no {split} documents "
                                 f"(val_fraction={cfg.val_fraction}, {total_docs} documents)")
        write_json(tokens_dir / "index.json", {
            "dtype": dtype.name, "vocab_size": vocab, "objective": cfg.objective,
            "separator_id": separator, "tokenizer_sha256": tokenizer_sha, "splits": splits,
            "mixture": result["mixture"]})
        save_config(cfg, tokens_dir, "lmpipe_tokenizer.yaml")

    total_tokens = sum(i["tokens"] for i in splits.values())
    metrics = {
        "vocab_size": vocab, "algorithm": cfg.algorithm, "dtype": dtype.name,
        "train_docs": splits["train"]["docs"], "val_docs": splits["val"]["docs"],
        "train_tokens": splits["train"]["tokens"], "val_tokens": splits["val"]["tokens"],
        "bytes_per_token": round(result["bytes"] / max(1, total_tokens), 3),
        "train_seconds": round(train_s, 2), "encode_seconds": round(result["seconds"], 2),
        "encode_mb_per_s": round(result["bytes"] / 1e6 / max(result["seconds"], 1e-9), 2),
        "mixture": result["mixture"],
    }
    log.info("tokenizer: %s", metrics)
    return metrics
