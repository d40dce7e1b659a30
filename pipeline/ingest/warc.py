"""WARC records: reading them past corrupt gzip members, and decoding HTML payloads.

warcio parses the records (and undoes chunked/gzip HTTP transfer encodings); a `.warc.gz` is
split into its gzip members first (see inputs.iter_gzip_members), so one bad member costs
only the records inside it.
"""
from __future__ import annotations

import codecs
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from pipeline.ingest.inputs import STREAM_ERRORS, iter_gzip_members

WARC_MAGIC = b"WARC/"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# What a WARC record that warcio cannot parse raises (besides broken compression).
RECORD_ERRORS = (ArchiveLoadFailed, ValueError, *STREAM_ERRORS)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b",
                         re.IGNORECASE | re.DOTALL)


@dataclass
class WarcRecord:
    rec_type: str  # response, conversion, request, metadata, warcinfo, ...
    record_id: str  # WARC-Record-ID without the <>: urn:uuid:...
    url: str | None
    date: str | None
    payload_type: str | None  # WARC-Identified-Payload-Type: Common Crawl's own detection
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
    gzip member or record is yielded as Unreadable (with its byte offset) and, in a
    gzipped file, reading goes on with the next member."""
    with open(path, "rb") as fh:
        if not str(path).endswith(".gz"):
            if fh.read(len(WARC_MAGIC)) != WARC_MAGIC:  # warcio would try to read it as ARC
                yield Unreadable(0, "no WARC/ version line at the start", cut_short=False)
                return
            fh.seek(0)
            yield from _iter_stream(fh, 0)
            return
        for member in iter_gzip_members(fh):
            if member.data is None:
                yield Unreadable(member.offset, member.error, cut_short="cut short" in member.error)
            elif not member.data.startswith(WARC_MAGIC):
                yield Unreadable(member.offset, "gzip member holds no WARC record", cut_short=False)
            else:
                yield from _iter_stream(io.BytesIO(member.data), member.offset)


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
