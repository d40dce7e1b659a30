"""wikiextractor output (github.com/attardi/wikiextractor): one document per page.

wikiextractor writes files of about 1 MB (`--bytes`), plain or bz2 (`--compress`), in one of
two formats:
    text:   <doc id="12" url="https://en.wikipedia.org/wiki?curid=12" title="Anarchism">
            Anarchism                      <- the title again, dropped here
            <blank line>
            Anarchism is a political philosophy ...
            </doc>
    --json: {"id": "12", "revid": "..", "url": "..", "title": "Anarchism", "text": "Anarchism is ..."}
The format is told per file by its first non-blank byte (`<` or `{`) unless `format` says it.

HTML entities are unescaped (`&lt;` -> `<`, `&amp;` -> `&`, `&quot;` -> `"`) in text and title.
They are not in the articles: wikiextractor reads the dump's XML with regular expressions, so
titles keep the dump's XML escaping (`title="Albert &quot;Ginger&quot; Baker"`), and its
html-safe output (the default) escapes `<`, `>` and `&` in the text so that the `<doc>` markup
stays parseable; the --json output is escaped the same way (the Wikinews sample has `&lt;` in
its text). Readers of wikiextractor output unescape for the same reason (Jammu &amp; Kashmir
is "Jammu & Kashmir"). What wikiextractor failed to strip (`<ref name="x"></ref>` in about 2%
of the enwiki sample's pages) then reads as the markup it is, for curate's filters to judge.

Skips: empty_text (a title only or an empty `text`: redirects and stubs, 60,156 of the 96,339
pages of the enwiki sample), unclosed_doc (a <doc> with no </doc> before the next <doc> or
the end of the file), truncated (the page a compressed file is cut short in; the pages before
it are kept), and for --json lines bad_json. File problems (cut short, empty, text outside
<doc> blocks) are one line each in `errors`, naming the file.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from datatrove.data import Document

from pipeline.errors import InputError
from pipeline.formats.inputs import Cut, read_all, read_head
from pipeline.ingest.readers import CountingReader, Skip, relative_names
from pipeline.ingest.textfiles import Line, line_records, parse_json

_ATTR = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class TextDoc:
    path: str
    offset: int  # of the <doc ...> line in the decompressed file
    header: bytes
    body: bytes


def detect_format(first_bytes: bytes) -> str | None:
    start = first_bytes.lstrip()[:1]
    return "text" if start == b"<" else "json" if start == b"{" else None


def _doc_starts(data: bytes) -> list[int]:
    """Offsets of the lines starting "<doc ". bytes.find, not re.finditer with ^ and re.M,
    which tries the pattern at every byte: 0.16 s of the 1.9 s a 16 MB slice took."""
    starts = [0] if data.startswith(b"<doc ") else []
    at = data.find(b"\n<doc ")
    while at >= 0:
        starts.append(at + 1)
        at = data.find(b"\n<doc ", at + 6)
    return starts


def _line(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


class WikiextractorReader(CountingReader):
    """Pages of wikiextractor output files, text or --json format (see the module doc).
    lang: the configured one (wikiextractor output does not say). A file is read whole (they
    are ~1 MB: wikiextractor's --bytes), which lets the text format be cut into pages with
    bytes.find rather than a Python loop over its lines."""

    name = "📖 wikiextractor"

    def __init__(self, files, source: str, limit: int = -1, lang: str | None = None, format: str = "auto"):
        super().__init__(files, source, limit, lang)
        if format not in ("auto", "text", "json"):
            raise ValueError(f"format: expected auto, text or json, got {format!r}")
        self.format = format
        self.names = relative_names(self.files)

    def records(self, path: str) -> Iterator[TextDoc | Line | Skip]:
        data, cut = read_all(path)
        if not data.strip():
            yield Skip(None, f"{path}: unreadable from its start: {cut.message}" if cut
                       else f"{path}: empty file (no <doc> block, no JSON line)")
            return
        fmt = detect_format(data) if self.format == "auto" else self.format
        if fmt is None:
            yield Skip(None, f"{path}: not wikiextractor output (starts with {data.lstrip()[:40]!r}, "
                             f"neither '<doc' nor '{{'); file skipped")
        elif fmt == "json":
            lines: list = data.split(b"\n")
            if cut:  # as iter_lines gives it: the incomplete last line in a Cut
                tail = lines.pop()
                lines.append(Cut(len(data) - len(tail), tail, cut.message))
            yield from line_records(path, lines)
        else:
            yield from self._text_docs(path, data, cut)

    @staticmethod
    def _text_docs(path: str, data: bytes, cut: Cut | None) -> Iterator[TextDoc | Skip]:
        starts = _doc_starts(data)
        stray = int(bool(data[: starts[0] if starts else len(data)].strip()))
        tail = 0 if starts else len(data)  # where the text after the last closed page starts
        for i, start in enumerate(starts):
            stop = starts[i + 1] if i + 1 < len(starts) else len(data)
            close = data.find(b"\n</doc>", start, stop)
            if close < 0:
                if stop == len(data) and cut:
                    break  # cut short inside this page: the Skip below
                ends = f"next <doc> at line {_line(data, stop)}" if stop < len(data) else "the file ends first"
                yield Skip("unclosed_doc", f"{path}:{_line(data, start)}: <doc> never closed ({ends})")
                tail = stop
                continue
            header_end = data.find(b"\n", start)
            yield TextDoc(path, start, data[start:header_end], data[header_end + 1: close])
            tail = data.find(b"\n", close + 1)
            tail = stop if tail < 0 else tail
            stray += bool(data[tail:stop].strip())
        else:
            tail = len(data)
        if cut:
            lost = bool(data[tail:].strip())  # a page had started
            yield Skip("truncated" if lost else None,
                       f"{path}: unreadable from uncompressed byte {len(data)} "
                       f"({'inside the <doc> of line ' + str(_line(data, tail)) if lost else 'between pages'}); "
                       f"pages before it kept: {cut.message}")
        if stray:
            yield Skip(None, f"{path}: {stray} stretch(es) of text outside <doc>...</doc> ignored")

    def convert(self, record: TextDoc | Line) -> Document | str:
        if isinstance(record, TextDoc):
            first, _, rest = record.body.partition(b"\n")
            if not rest.strip() and record.header.endswith(b'title="%s">' % first.strip()):
                return "empty_text"  # the title line alone (most are redirects): 60% of enwiki's pages
            attrs = dict(_ATTR.findall(record.header.decode("utf-8", "replace")))
            page_id, url, title = attrs.get("id", ""), attrs.get("url"), attrs.get("title", "")
            text, where = record.body.decode("utf-8", "replace"), f"@{record.offset}"
        else:
            obj = parse_json(self, record)
            if isinstance(obj, str):
                return obj
            page_id, url = str(obj.get("id", "")), obj.get("url")
            title, text = obj.get("title") or "", obj.get("text") or ""
            where = f":{record.lineno}"
        # the text format repeats the title as the first body line (the --json format does not)
        if title and text.startswith(title) and text[len(title): len(title) + 1] in ("\n", ""):
            text = text[len(title) + 1:]
        text = html.unescape(text).strip()
        if not text:
            return "empty_text"
        # without the dump's base URL wikiextractor writes "?curid=N": no URL to filter on
        if url and "://" not in url:
            url = None
        return self.document(text, page_id or f"{self.names[record.path]}{where}", url=url, title=html.unescape(title))


def check_file(path, fmt: str) -> None:
    """Preflight: a non-empty file's first non-blank byte is what its format says."""
    head = read_head(path, 4096).lstrip()
    if not head:
        return  # empty once decompressed: the reader records it and reads the other files
    got = detect_format(head)
    if got is None or fmt != "auto" and got != fmt:
        expected = {"auto": "'<doc' (text) or '{' (--json)", "text": "'<doc'", "json": "'{'"}[fmt]
        raise InputError(f"{path}: not wikiextractor output: starts with {head[:40]!r}, expected {expected}")
