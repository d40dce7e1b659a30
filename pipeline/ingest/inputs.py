"""Opening input files: transparent decompression, and gzip members one at a time.

Common Crawl writes one gzip member per WARC record, so a corrupt member costs one record
only if the reader restarts at the next member. gzip, warcio and FastWARC all stop at the
first bad member, hence `iter_gzip_members`.
"""
from __future__ import annotations

import bz2
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import InputError

# What bz2/gzip/zlib raise on data that is cut short (EOFError) or corrupt (OSError, zlib.error).
STREAM_ERRORS = (EOFError, OSError, zlib.error)
GZIP_MAGIC = b"\x1f\x8b\x08"  # ID1, ID2, CM=deflate: the start of every gzip member
READ_SIZE = 1 << 20
# Input is fed to zlib in slices this small: each member leaves its unread rest in
# `unused_data`, a copy, so big slices would copy the buffer once per (small) record.
FEED_SIZE = 1 << 16


def check_nonempty(path: str | Path) -> None:
    """An empty input file is a hard error: it is almost always a failed download or copy,
    and reading it as "zero documents" would hide that."""
    if Path(path).stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")


def iter_decompressed(path: str | Path) -> Iterator[bytes]:
    """The file's bytes, decompressed by suffix (.bz2, .gz, else plain), chunk by chunk;
    concatenated streams/members (bz2 multistream dumps) are read on. A file cut short
    raises EOFError after yielding every byte that could be decompressed (BZ2File loses the
    last decompressed block when a read spans the cut)."""
    suffix = Path(path).suffix
    new = {".bz2": bz2.BZ2Decompressor, ".gz": lambda: zlib.decompressobj(wbits=31)}.get(suffix)
    with open(path, "rb") as fh:
        if new is None:
            yield from iter(lambda: fh.read(FEED_SIZE), b"")
            return
        decomp, fed = new(), False
        for chunk in iter(lambda: fh.read(FEED_SIZE), b""):
            while chunk:
                fed = True
                if out := decomp.decompress(chunk):
                    yield out
                chunk = b""
                if decomp.eof:  # next stream of a multistream file, if any
                    chunk, decomp, fed = decomp.unused_data, new(), False
        if fed:
            raise EOFError(f"compressed stream cut short ({suffix})")


@dataclass
class Member:
    offset: int  # compressed byte offset of the member in the file
    data: bytes | None  # None when the member could not be decompressed
    error: str | None = None


def iter_gzip_members(fh: BinaryIO) -> Iterator[Member]:
    """Decompress a multi-member gzip stream member by member. A corrupt member is yielded
    with its error and reading resumes at the next gzip header; a member cut off by the end
    of the file is yielded with an error and ends the stream."""
    buf = bytearray()  # file bytes from `base` on; a member starts at buf[0]
    base = 0
    at_eof = False

    def fill() -> bool:
        nonlocal at_eof
        more = fh.read(READ_SIZE)
        buf.extend(more)
        at_eof = not more
        return bool(more)

    while buf or fill():
        decomp, parts, pos = zlib.decompressobj(wbits=31), [], 0
        try:
            while not decomp.eof:
                if pos == len(buf) and not fill():
                    yield Member(base, None, "gzip member cut short by the end of the file")
                    return
                piece = bytes(buf[pos:pos + FEED_SIZE])
                parts.append(decomp.decompress(piece))
                pos += len(piece) - len(decomp.unused_data)
        except zlib.error as exc:
            yield Member(base, None, f"corrupt gzip member ({exc})")
            pos = _next_header(buf, fill)
            if pos < 0:
                return
        else:
            yield Member(base, b"".join(parts))
        del buf[:pos]
        base += pos


def _next_header(buf: bytearray, fill) -> int:
    """Index of the next gzip header after buf[0], reading more as needed; -1 if none."""
    start = 1
    while (found := buf.find(GZIP_MAGIC, start)) < 0:
        start = max(1, len(buf) - len(GZIP_MAGIC) + 1)
        if not fill():
            return -1
    return found
