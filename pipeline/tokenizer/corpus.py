"""Streaming the curated corpus: parquet shards read batch by batch, never loaded whole.

Documents are split into train / validation by a hash of their id, so the split does not
depend on shard order or on how many documents other stages kept.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq

from pipeline.errors import InputError

READ_BATCH = 1024  # rows per parquet read: bounded memory, large enough for fast Arrow reads


def find_shards(directory: Path, pattern: str) -> list[Path]:
    shards = sorted(directory.glob(pattern))
    if not shards:
        raise InputError(f"{directory / pattern}: no parquet shards found (run the curate stage first)")
    for shard in shards:
        names = pq.ParquetFile(shard).schema_arrow.names
        if "text" not in names or "id" not in names:
            raise InputError(f"{shard}: expected columns 'id' and 'text', found {names}")
    if count_docs(shards) == 0:
        raise InputError(f"{directory / pattern}: the shards hold no documents")
    return shards


def count_docs(shards: list[Path]) -> int:
    return sum(pq.ParquetFile(s).metadata.num_rows for s in shards)


def unit_hash(doc_id: str, salt: str = "") -> float:
    """Stable per-document coin: blake2b of the id (and a salt, for independent coins), in [0, 1)."""
    digest = hashlib.blake2b(doc_id.encode(), digest_size=8, person=salt.encode()[:16]).digest()
    return int.from_bytes(digest, "big") / 2**64


def is_validation(doc_id: str, val_fraction: float) -> bool:
    return unit_hash(doc_id) < val_fraction


def iter_batches(shards: list[Path]) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) per read batch, in shard order then row order; empty texts skipped."""
    for shard in shards:
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=READ_BATCH, columns=["id", "text"]):
            ids, texts = batch.column("id").to_pylist(), batch.column("text").to_pylist()
            kept = [(i, t) for i, t in zip(ids, texts) if t]
            if kept:
                yield [i for i, _ in kept], [t for _, t in kept]


def iter_train(shards: list[Path], val_fraction: float) -> Iterator[list[str]]:
    """Texts of the training split, batch by batch."""
    for ids, texts in iter_batches(shards):
        chosen = [t for i, t in zip(ids, texts) if not is_validation(i, val_fraction)]
        if chosen:
            yield chosen


def iter_marked(shards: list[Path], val_fraction: float) -> Iterator[tuple[list[str], list[str], list[bool]]]:
    """(ids, texts, is_validation flags) per batch: both splits in one pass."""
    for ids, texts in iter_batches(shards):
        yield ids, texts, [is_validation(i, val_fraction) for i in ids]


def capped(batches: Iterator[list[str]], max_chars: int) -> Iterator[list[str]]:
    """The tokenizer's training sample: the first `max_chars` characters of the stream (0 = all)."""
    seen = 0
    for texts in batches:
        kept = []
        for text in texts:
            if max_chars:
                text = text[: max_chars - seen]
            kept.append(text)
            seen += len(text)
        yield kept
        if max_chars and seen >= max_chars:
            return
