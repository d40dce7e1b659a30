"""Encoding the corpus into flat binary token shards, one stream per split.

Each document's ids are followed by the document separator token, so a shard is a ready
token stream that the trainer memory-maps and cuts into windows. Shards hold whole documents;
a new one starts once `shard_tokens` is reached. The Rust tokenizer encodes each batch on all
cores (rayon), which is the parallel batch encoding the `tokenizers` library is built for.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from pipeline.tokenizer.mixture import Mixture


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 2**16 else np.uint32)


@contextlib.contextmanager
def rust_parallelism() -> Iterator[None]:
    """pipeline.env turns tokenizers' thread pool off process-wide (fork safety); encoding is
    the one place it pays, so it is on for the duration of the call only."""
    old = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TOKENIZERS_PARALLELISM")
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = old


@dataclass
class SplitWriter:
    """Appends encoded documents to `<split>_NNNNN.bin` files under `out`."""
    out: Path
    split: str
    dtype: np.dtype
    shard_tokens: int
    shards: list[dict] = field(default_factory=list)
    _fh: object = None

    def write(self, ids: np.ndarray, docs: int) -> None:
        if self._fh is None or self.shards[-1]["tokens"] >= self.shard_tokens:
            self._open()
        ids.astype(self.dtype, copy=False).tofile(self._fh)
        self.shards[-1]["tokens"] += int(ids.size)
        self.shards[-1]["docs"] += docs

    def _open(self) -> None:
        self.close()
        name = f"{self.split}_{len(self.shards):05d}.bin"
        self._fh = open(self.out / name, "wb")
        self.shards.append({"file": name, "tokens": 0, "docs": 0})

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def summary(self) -> dict:
        return {"shards": self.shards, "tokens": sum(s["tokens"] for s in self.shards),
                "docs": sum(s["docs"] for s in self.shards)}


def encode_corpus(tok: Tokenizer, batches: Iterator[tuple[list[str], list[str], list[bool]]],
                  writers: dict[str, SplitWriter], separator: int, total_docs: int,
                  mixture: Mixture | None = None) -> dict:
    """One pass over (ids, texts, is_val) batches into the train and val writers; a train
    document is written as many times as the mixture says (once without one).
    Returns each split's summary plus the UTF-8 bytes and seconds spent encoding."""
    mixture = mixture or Mixture({})
    nbytes, start = 0, time.perf_counter()
    with rust_parallelism(), tqdm(total=total_docs, unit="doc", desc="encode", mininterval=2.0) as bar:
        for doc_ids, texts, is_val in batches:
            encodings = tok.encode_batch(texts, add_special_tokens=False)
            flat: dict[str, list[int]] = {split: [] for split in writers}
            docs = dict.fromkeys(writers, 0)
            for doc_id, enc, val in zip(doc_ids, encodings, is_val):  # one pass, each document to its split
                split = "val" if val else "train"
                copies = 1 if val else mixture.copies(doc_id)
                if not val:
                    mixture.count(doc_id, len(enc.ids) + 1, copies)
                flat[split] += (enc.ids + [separator]) * copies
                docs[split] += copies
            for split, writer in writers.items():
                if docs[split]:
                    writer.write(np.array(flat[split], dtype=writer.dtype), docs[split])
            nbytes += sum(len(t.encode("utf-8")) for t in texts)
            bar.update(len(texts))
    for writer in writers.values():
        writer.close()
    return {"splits": {s: w.summary() for s, w in writers.items()}, "mixture": mixture.summary(),
            "bytes": nbytes, "seconds": time.perf_counter() - start}
