"""WARC records: reading them past corrupt gzip members, and decoding HTML payloads.

warcio parses the records (and undoes chunked/gzip HTTP transfer encodings); a `.warc.gz` is
split into its gzip members first (see inputs.iter_gzip_members), so one bad member costs
only the records inside it. A plain `.warc` is split into records by their Content-Length
first (`_iter_plain`), for the same reason.
"""
from __future__ import annotations

import codecs
import functools
import html
import io
import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from pipeline.formats.inputs import STREAM_ERRORS, iter_gzip_members

WARC_MAGIC = b"WARC/"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# What a WARC record that warcio cannot parse raises (besides broken compression).
RECORD_ERRORS = (ArchiveLoadFailed, ValueError, *STREAM_ERRORS)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
# A plain WARC's record boundaries; lines end in CRLF (LF alone tolerated, as warcio does).
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")  # a line end and an empty line: ends a header or a record
_CONTENT_LENGTH = re.compile(rb"\nContent-Length:[ \t]*(\d+)[ \t]*\r?\n", re.IGNORECASE)
_BLANK_LINES = re.compile(rb"(?:\r?\n)*")
# The first line of a record; after junk it need not start a line ("...junkWARC/1.0").
_VERSION_LINE = re.compile(rb"WARC/1\.\d\r?\n")
# ISO 639-3 codes with an ISO 639-1 code that CLDR's aliases (used below) replace by another
# (Tagalog -> fil, Serbo-Croatian -> sr_Latn); lid.176, curate's language ID, says tl and sh.
ISO_639_1_OVERRIDES = {"tgl": "tl", "hbs": "sh"}
_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b",
                         re.IGNORECASE | re.DOTALL)


@dataclass
class WarcRecord:
    rec_type: str  # response, conversion, request, metadata, warcinfo, ...
    record_id: str  # WARC-Record-ID without the <>: urn:uuid:...
    url: str | None
    date: str | None
    payload_type: str | None  # WARC-Identified-Payload-Type: Common Crawl's own detection
    content_languages: str | None  # WARC-Identified-Content-Language: "eng,deu" (CLD2, primary first)
    http_status: int | None
    http_content_type: str | None
    payload: bytes  # the HTTP body (response) or the record block (conversion)


@dataclass
class Unreadable:
    offset: int
    message: str
    cut_short: bool  # the file ends inside this record


def _record(rec) -> WarcRecord:
    headers = rec.rec_headers
    http = rec.http_headers
    status = http.get_statuscode() if http is not None and rec.rec_type == "response" else None
    return WarcRecord(
        rec_type=rec.rec_type,
        record_id=(headers.get_header("WARC-Record-ID") or "").strip("<>"),
        url=headers.get_header("WARC-Target-URI"),
        date=headers.get_header("WARC-Date"),
        payload_type=headers.get_header("WARC-Identified-Payload-Type"),
        content_languages=headers.get_header("WARC-Identified-Content-Language"),
        http_status=int(status) if status and status.isdigit() else None,
        http_content_type=http.get_header("Content-Type") if http is not None else None,
        payload=rec.content_stream().read() if rec.rec_type in ("response", "conversion") else b"",
    )


def _iter_stream(stream, base_offset: int) -> Iterator[WarcRecord | Unreadable]:
    records = ArchiveIterator(stream)
    try:
        for rec in records:
            yield _record(rec)
    except RECORD_ERRORS as exc:
        yield Unreadable(base_offset + records.offset, f"unreadable WARC record ({exc})"[:300],
                         cut_short=isinstance(exc, EOFError))


def iter_warc(path: str | Path) -> Iterator[WarcRecord | Unreadable]:
    """Every record of a WARC/WET/WAT file, plain or gzipped, in file order. An unreadable
    gzip member or record is yielded as Unreadable (with its byte offset) and reading goes
    on with the next member (gzipped) or the next record (plain)."""
    with open(path, "rb") as fh:
        if not str(path).endswith(".gz"):
            if fh.read(len(WARC_MAGIC)) != WARC_MAGIC:  # warcio would try to read it as ARC
                yield Unreadable(0, "no WARC/ version line at the start", cut_short=False)
                return
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                yield from _iter_plain(data)
            return
        for member in iter_gzip_members(fh):
            if member.data is None:
                yield Unreadable(member.offset, member.error, cut_short="cut short" in member.error)
            elif not member.data.startswith(WARC_MAGIC):
                yield Unreadable(member.offset, "gzip member holds no WARC record", cut_short=False)
            else:
                yield from _iter_stream(io.BytesIO(member.data), member.offset)


def _iter_plain(data) -> Iterator[WarcRecord | Unreadable]:
    """The records of an uncompressed WARC (`data`: the whole file, mmapped). warcio alone
    follows a wrong Content-Length into the next record and then stops at the first line that
    is no record header, losing the rest of the file (or keeps a record cut short, with a
    warning). Here a record must end where its Content-Length says: at an empty line, or at
    the next record or the end of the file. One that does not (and bytes where a record should
    start but none does) is yielded as Unreadable, and reading resumes at the next `WARC/1.x`
    line after it, as the gzip path resumes at the next member."""
    pos = 0
    while pos < len(data):
        end, problem = _record_end(data, pos)
        if problem is None:
            yield from _iter_stream(io.BytesIO(data[pos:end]), pos)
            pos = end
            continue
        resync = _VERSION_LINE.search(data, pos + 1)
        if resync is None and end > len(data):  # no record after it: the file is cut short
            yield Unreadable(pos, "WARC record cut short by the end of the file", cut_short=True)
            return
        yield Unreadable(pos, f"corrupt WARC record ({problem})", cut_short=False)
        if resync is None:
            return
        pos = resync.start()


def _record_end(data, pos: int) -> tuple[int, str | None]:
    """Where the record starting at `pos` ends, blank lines after it included (past len(data)
    if the file ends first), and what is wrong with it, if anything."""
    if data[pos:pos + len(WARC_MAGIC)] != WARC_MAGIC:
        return pos, "no WARC/ line where a record should start"
    header = _BLANK_LINE.search(data, pos)
    if header is None:
        return len(data) + 1, "its header never ends"
    length = _CONTENT_LENGTH.search(data, pos, header.end())
    if length is None:
        return header.end(), "no Content-Length in its header"
    declared = int(length.group(1))
    end = header.end() + declared
    if end > len(data):
        return end, f"Content-Length {declared} runs past the end of the file"
    after = _BLANK_LINES.match(data, end).end()
    # An empty line right at the declared end: the record is whole even if junk follows (the
    # next round reports the junk); a wrong length almost never lands on one.
    if after == len(data) or data[after:after + len(WARC_MAGIC)] == WARC_MAGIC or _BLANK_LINE.match(data, end):
        return after, None
    return after, f"no record starts where its Content-Length {declared} ends"


@functools.cache
def _iso_639_1() -> dict[str, str]:
    """ISO 639-3/-2 codes -> ISO 639-1, from CLDR's language aliases as Babel ships them
    (eng -> en, deu -> de, ger -> de, cmn -> zh); Babel is installed with trafilatura."""
    from babel.core import get_global

    aliases = get_global("language_aliases")
    return {code: two for code, two in aliases.items() if len(code) == 3 and len(two) == 2} | ISO_639_1_OVERRIDES


def language_codes(header: str | None) -> list[str]:
    """A WARC-Identified-Content-Language value ("eng,deu") as the pipeline's language codes,
    in order: ISO 639-1 where the language has one ("en", "de"), else the code as given."""
    codes = (code.strip().lower() for code in (header or "").split(","))
    return [_iso_639_1().get(code, code) for code in codes if code]


def media_type(content_type: str | None) -> str | None:
    return content_type.split(";")[0].strip().lower() or None if content_type else None


def is_html(rec: WarcRecord) -> bool:
    """Common Crawl's identified type if the record has one, else the server's Content-Type,
    else a look at the first bytes. datatrove's WarcReader sniffs with libmagic instead of
    reading Content-Type, which calls XHTML pages non-HTML (it keeps 567 of 5,631 webdocs)."""
    declared = media_type(rec.payload_type) or media_type(rec.http_content_type)
    if declared:
        return declared in HTML_TYPES
    return bool(_HTML_START.match(rec.payload[:1024]))


def _declared_charset(content_type: str | None) -> str | None:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
            try:
                codecs.lookup(charset)
            except LookupError:
                return None  # an unknown label: detect instead
            return map_encoding_to_html5(charset)
    return None


def decode_html(payload: bytes, content_type: str | None) -> str:
    """The HTTP charset if it names a known encoding, else the <meta> charset, else uchardet;
    labels mapped as browsers do (WHATWG: latin1 means cp1252). Bytes invalid in the chosen
    encoding fall back to UTF-8/cp1252, never fail."""
    encoding = _declared_charset(content_type) or detect_encoding(payload, from_html_meta=True)
    return bytes_to_str(payload, encoding)


def html_title(page: str) -> str | None:
    """The <title> of a decoded page (the extractors return only the body text)."""
    match = _TITLE.search(page, 0, 1 << 16)
    title = " ".join(html.unescape(match.group(1)).split()) if match else ""
    return title or None
