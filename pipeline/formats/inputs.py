"""Opening input files: transparent decompression, lines, and gzip members one at a time.

Every reader opens its files through `iter_decompressed` (or `iter_lines`, `read_all` on top
of it), so .bz2, .gz, .xz, .zst and single-file .zip inputs work for every source kind, and a
file cut short behaves the same everywhere: the bytes before the cut are kept, then an error.
The stdlib decompressors are used directly rather than fsspec's file objects because those
(BZ2File, LZMAFile) drop the last decompressed block when a read spans a cut, and a cut must
cost as few records as possible.

Common Crawl writes one gzip member per WARC record, so a corrupt member costs one record
only if the reader restarts at the next member. gzip, warcio and FastWARC all stop at the
first bad member, hence `iter_gzip_members`. Multistream bz2 files (Wikipedia's
`-multistream` dumps: 100 pages a stream; pbzip2, lbzip2) resync the same way, at the next
stream header (`next_bz2_stream`); a single-stream file has no byte-aligned point to resume at.
"""
from __future__ import annotations

import bz2
import contextlib
import lzma
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import InputError

# What the decompressors raise on data that is cut short (EOFError) or corrupt (the others).
STREAM_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
COMPRESSED_SUFFIXES = (".bz2", ".gz", ".xz", ".zst", ".zip")
GZIP_MAGIC = b"\x1f\x8b\x08"  # ID1, ID2, CM=deflate: the start of every gzip member
# A bz2 stream starts "BZh", its block size (1-9 x 100 kB), then its first block's magic, the
# BCD digits of pi 0x314159265359 ("1AY&SY"). 10 bytes: a chance match in compressed data is
# ~1 in 10^23 per position, and one would fail to decompress and be skipped like a bad stream.
BZ2_STREAM_HEADER = re.compile(rb"BZh[1-9]1AY&SY")
BZ2_STREAM_HEADER_SIZE = 10
READ_SIZE = 1 << 20
# Input is fed to zlib in slices this small: each member leaves its unread rest in
# `unused_data`, a copy, so big slices would copy the buffer once per (small) record.
FEED_SIZE = 1 << 16


def check_nonempty(path: str | Path) -> None:
    """An empty input file is a hard error: it is almost always a failed download or copy,
    and reading it as "zero documents" would hide that."""
    if Path(path).stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")


def _zstd_decompressor() -> Callable:
    try:
        from compression.zstd import ZstdDecompressor  # Python 3.14+
        return ZstdDecompressor
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        raise InputError("reading .zst files needs Python 3.14+ or the `zstandard` package") from None
    return lambda: zstandard.ZstdDecompressor().decompressobj()


# suffix -> a new incremental decompressor, each with .decompress(), .eof and .unused_data
DECOMPRESSORS: dict[str, Callable] = {
    ".bz2": bz2.BZ2Decompressor,
    ".gz": lambda: zlib.decompressobj(wbits=31),
    ".xz": lzma.LZMADecompressor,
    ".zst": lambda: _zstd_decompressor()(),
}


def plain_name(path: str | Path) -> str:
    """The file name without its compression suffix: wiki_00.bz2 -> wiki_00, a.txt.xz -> a.txt."""
    name = Path(path).name
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix in COMPRESSED_SUFFIXES else name


class CorruptStream(OSError):
    """Compressed data that cannot be decompressed, in the stream (bz2) or member (gzip) that
    starts at compressed byte `stream_offset` of the file."""

    def __init__(self, message: str, stream_offset: int):
        super().__init__(message)
        self.stream_offset = stream_offset


def iter_decompressed(path: str | Path, feed_size: int = FEED_SIZE, start: int = 0) -> Iterator[bytes]:
    """The file's bytes from compressed byte `start` on, decompressed by suffix (.bz2, .gz,
    .xz, .zst, .zip, else plain), chunk by chunk; concatenated streams/members (bz2 multistream
    dumps, pbzip2, pigz) are read on. A file cut short raises EOFError after yielding every
    byte that could be decompressed; corrupt data raises CorruptStream. `feed_size` compressed
    bytes are decompressed at a time (small to read just the head of a file)."""
    suffix = Path(path).suffix
    if suffix == ".zip":
        yield from _iter_zip_member(path, feed_size)
        return
    new = DECOMPRESSORS.get(suffix)
    with open(path, "rb") as fh:
        fh.seek(start)
        if new is None:
            yield from iter(lambda: fh.read(feed_size), b"")
            return
        decomp, fed, stream_offset = new(), False, start
        for chunk in iter(lambda: fh.read(feed_size), b""):
            while chunk:
                fed = True
                try:
                    out = decomp.decompress(chunk)
                except (OSError, zlib.error, lzma.LZMAError) as exc:
                    raise CorruptStream(f"{suffix} stream at compressed byte {stream_offset}: {exc}", stream_offset) from exc
                if out:
                    yield out
                chunk = b""
                if decomp.eof:  # next stream of a multistream file, if any
                    chunk, decomp, fed = decomp.unused_data, new(), False
                    stream_offset = fh.tell() - len(chunk)
        if fed:
            raise EOFError(f"compressed stream cut short ({suffix})")


def next_bz2_stream(path: str | Path, after: int) -> int | None:
    """The compressed offset of the first bz2 stream header after byte `after` of a .bz2
    file, where reading resumes past a corrupt stream; None when there is none (a single-stream
    file, the last stream, or another format)."""
    if Path(path).suffix != ".bz2":
        return None
    overlap = BZ2_STREAM_HEADER_SIZE - 1  # a header split across two reads is still found
    with open(path, "rb") as fh:
        fh.seek(after + 1)
        base, carry = after + 1, b""
        for chunk in iter(lambda: fh.read(READ_SIZE), b""):
            if match := BZ2_STREAM_HEADER.search(carry + chunk):
                return base - len(carry) + match.start()
            base += len(chunk)
            carry = chunk[-overlap:]
    return None


def _iter_zip_member(path: str | Path, feed_size: int) -> Iterator[bytes]:
    """The one file of a .zip (Project Gutenberg ships each book as a zip of its .txt). A zip
    cut short has lost its central directory: zipfile raises BadZipFile when opening it."""
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise InputError(f"{path}: zip holds {len(members)} files "
                             f"({', '.join(m.filename for m in members[:5])}); expected exactly one")
        with archive.open(members[0]) as fh:
            yield from iter(lambda: fh.read(feed_size), b"")


@dataclass
class Cut:
    """The file stops being readable here (cut short or corrupt); what came before was read."""
    offset: int  # uncompressed bytes read before the error
    tail: bytes  # the incomplete last line (iter_lines) or b""
    message: str


def iter_lines(path: str | Path) -> Iterator[bytes | Cut]:
    """The file's lines (decompressed, without the line break), then a Cut if the file is cut
    short or corrupt; its `tail` is the incomplete line the error left."""
    rest, offset = b"", 0
    try:
        for chunk in iter_decompressed(path):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            offset += len(chunk)
            yield from lines
    except STREAM_ERRORS as exc:
        yield Cut(offset - len(rest), rest, f"{type(exc).__name__}: {exc}")
        return
    if rest:
        yield rest


def read_all(path: str | Path) -> tuple[bytes, Cut | None]:
    """The whole decompressed file (for inputs of bounded size: one book, one text file), and
    the Cut when only a prefix could be read."""
    parts: list[bytes] = []
    try:
        for chunk in iter_decompressed(path):
            parts.append(chunk)
    except STREAM_ERRORS as exc:
        data = b"".join(parts)
        return data, Cut(len(data), b"", f"{type(exc).__name__}: {exc}")
    return b"".join(parts), None


def read_head(path: str | Path, size: int, enough: Callable[[bytes], bool] | None = None) -> bytes:
    """About the first `size` decompressed bytes (more when a block comes out whole, as bz2's
    do), or fewer once `enough(head)` says so. Errors propagate: callers use it to check a file
    before reading it."""
    head = b""
    with contextlib.closing(iter_decompressed(path, feed_size=4096)) as chunks:
        for chunk in chunks:
            head += chunk
            if len(head) >= size or enough and enough(head):
                break
    return head


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
