"""Project Gutenberg plain-text books (.txt, compressed, or PG's .zip of one .txt): the text
between PG's start and end markers, unwrapped into paragraphs and cut into documents of about
`doc_chars` characters at chapter headings.

Markers (counts are the 1,132 books of the shared sample):
  start  `*** START OF THE/THIS PROJECT GUTENBERG EBOOK ... ***`, also `***START OF ...` (1,105);
         `*END*THE SMALL PRINT! ...*END*` / `*END THE SMALL PRINT!`, the end of the license that
         1990s files put first (21); `SMALL PRINT! FOR __ COMPLETE SHAKESPEARE`, the World
         Library plays (6), whose `<<THIS ELECTRONIC VERSION ...>>` notices between scenes are
         dropped too.
  end    `*** END OF THE/THIS PROJECT GUTENBERG ...`, `End of the/this Project Gutenberg ...`,
         `End of Project Gutenberg's ...`, `End Project Gutenberg's`, `*Project Gutenberg Etext
         of ...*`, `End of this Etext of ...`, else the full license's
         `*** START: FULL LICENSE`; the first one after the start. A book with a start but no
         end is kept to its last line, with an error.
A book with no start marker is skipped as no_gutenberg_markers: its license text must not be
taken for the book.

Header metadata (before the start marker) goes into the documents' metadata: title, author,
language (as written), release_date, ebook_number; `lang` is the ISO 639 code of the first
language named (Babel's English names: "French" -> fr), so curate's language filter sees a
French book as French. url: https://www.gutenberg.org/ebooks/<number>.

Paragraphs: a blank line separates them. A paragraph of PG's hard-wrapped prose is joined into
one line; one that looks like verse, a list or a table keeps its line breaks (dedented): a line
before the last shorter than WRAPPED_MIN_CHARS, most lines after the first capitalised (verse,
also verse of long lines), or any of them indented. PG wraps prose at 70-75 columns, so a
wrapped line falls short of that by at most one word: in 40 sample books 99.6% of such lines
have 50 characters or more; in prose a line starts with a capital only where a sentence or a
name does. A block longer than doc_chars (a book marking paragraphs by indentation alone, a
long poem) is cut at line breaks.

Documents: a book is cut before a chapter heading (CHAPTER I, Chapter 1, BOOK II, PART THREE,
CANTO, STAVE, ACT, a roman or arabic numeral alone...) and at a paragraph boundary before it
would pass doc_chars, but only once the current document has doc_chars / 10 characters: a
contents list or a short preface joins what follows, a heading stays with its chapter, and a
short tail ("THE END") joins the last part. Ids: <source>/<ebook number>/<part>, the part
counted from 0; without an ebook number (or for a second file with the same one: PG numbered
two different books #2324) the file's stem. A book is one record: `limit` counts
books, and `records` counts the documents made plus the books skipped.
"""
from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from datatrove.data import Document

from pipeline.errors import InputError
from pipeline.formats.inputs import STREAM_ERRORS, read_all, read_head
from pipeline.ingest.readers import CountingReader, Skip, relative_names
from pipeline.ingest.textfiles import decode

DOC_CHARS = 20_000  # default target document size: ~3,500 words, a chapter of a typical novel
# Header peek: up to the start marker, at most this much. The sample's start markers are all
# within 15 kB; the peek reads 4 kB of compressed input at a time (~12 kB of text).
HEAD_CHARS = 32_768
WRAPPED_MIN_CHARS = 50
# The start marker is within the first 15 kB of every sample book, the end marker within the
# last 21 kB (the full license follows it): markers are looked for there first.
MARKER_WINDOW = 100_000

_START = re.compile(r"^\*{3} ?START OF (?:THE|THIS) PROJECT GUTENBERG.*$"
                    r"|^\*END\*? ?THE SMALL PRINT!.*$"
                    r"|^.*SMALL PRINT! FOR __ COMPLETE SHAKESPEARE.*$", re.M | re.I)
_END = re.compile(r"^\*{3} ?END OF (?:THE|THIS) PROJECT GUTENBERG"
                  r"|^End (?:of )?(?:the |this )?Project Gutenb[eu]rg"
                  r"|^\*Project Gutenberg Etext of"
                  r"|^End of this Etext of"
                  r"|^\*{3} ?START: FULL LICENSE", re.M | re.I)
_NOTICE = re.compile(r"<<THIS ELECTRONIC VERSION OF THE COMPLETE WORKS.*?>>\n?", re.S)
_FIELD = re.compile(r"^(Title|Author|Language|Release Date|Posting Date):[ \t]*(.*(?:\n[ \t]+\S.*)*)",
                    re.M | re.I)
_EBOOK = re.compile(r"\[\s*E-?(?:Book|text)\s*#\s*(\d+)\s*\]", re.I)
# "The Project Gutenberg EBook of A Garland for Girls, by Louisa May Alcott": for headers
# without Title:/Author: lines
_FIRST_LINE = re.compile(r"Project Gutenberg'?s? (?:E-?Book|E-?text)(?:,| of) (.+?)(?:,? by (.+))?$", re.I)
# 2 of the sample's books are HTML pages saved as .txt
_HTML_TAG = re.compile(r"<(?:p|div|h[1-6]|br|pre)\b[^>]*>", re.I)
_CAPITALISED_LINE = re.compile(r"\n[A-ZÀ-ÖØ-Þ]")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)
_PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t]*\n)+")
_CREDITS = re.compile(r"(?:Produced|E-?text prepared|Prepared|Transcribed|This e-?text was prepared) (?:by|from)",
                      re.I)
_KEYWORDS = ("CHAPTER|Chapter|BOOK|Book|PART|Part|CANTO|Canto|STAVE|Stave|VOLUME|Volume|ACT|Act|SCENE|Scene|"
             "LETTER|Letter|SECTION|Section")
_HEADING = re.compile(rf"(?:{_KEYWORDS})\s+(?:[IVXLCDM]+\b|\d+\b|[A-Z][a-z]+\b|[A-Z]+\b).*"
                      r"|[IVXLCDM]+\.?|\d{1,3}\.?")
_HEADING_FIRST = set("CBPSVALIXMD0123456789")  # what _HEADING can start with: a cheap test first
# PG's language names Babel spells otherwise
LANGUAGE_ALIASES = {"pennsylvania dutch": "pdc", "greek, ancient": "grc", "old english": "ang"}


@dataclass
class Book:
    path: str
    native_id: str  # <ebook number> or the file's stem
    metadata: dict = field(default_factory=dict)


@functools.cache
def _language_codes() -> dict[str, str]:
    from babel import Locale  # with courlan (trafilatura) and prefect's apprise

    codes: dict[str, str] = {}
    for code, name in sorted(Locale("en").languages.items(), key=lambda kv: len(kv[0])):
        if "_" not in code:  # en, not en_GB; two letters before three
            codes.setdefault(name.lower(), code)
    return {**codes, **LANGUAGE_ALIASES}


def language_code(name: str | None) -> str | None:
    """ISO 639 code of the first language named: "English" -> en, "English and French" -> en,
    "Greek, Ancient (to 1453)" -> grc; None when unknown."""
    if not name:
        return None
    name = re.sub(r"\s*\(.*?\)", "", name).strip().lower()
    codes = _language_codes()
    if name in codes:
        return codes[name]
    first = re.split(r",|;|/| and | & ", name)[0].strip()
    return codes.get(first)


def parse_header(header: str) -> dict:
    """title, author, language, release_date, ebook_number, lang and url from a PG header."""
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(header):
        fields.setdefault(key.lower(), " ".join(value.split()))
    first = next((line.strip() for line in header.split("\n") if line.strip()), "")
    if (match := _FIRST_LINE.search(first)) and not fields.get("title"):
        fields["title"] = match.group(1)
        fields.setdefault("author", match.group(2) or "")
    ebook = _EBOOK.search(header)
    release = fields.get("release date") or fields.get("posting date")
    number = ebook.group(1) if ebook else None
    return {"title": fields.get("title") or None, "author": fields.get("author") or None,
            "language": fields.get("language"), "lang": language_code(fields.get("language")),
            "release_date": _EBOOK.sub("", release).strip() if release else None,
            "ebook_number": number, "url": f"https://www.gutenberg.org/ebooks/{number}" if number else None}


def unwrap(paragraph: str) -> str:
    """One paragraph: prose joined into one line, verse/lists/tables kept (see the module doc).
    str methods and literal-led patterns only: this runs for every paragraph, and a pattern
    led by ^ or [ \t]* is tried at every character (it made unwrapping 3x slower)."""
    if "\n" not in paragraph:
        return paragraph.strip()
    if " \n" in paragraph or "\t\n" in paragraph:
        paragraph = _TRAILING_SPACE.sub("", paragraph)
    lines = paragraph.split("\n")
    if ("\n " in paragraph or "\n\t" in paragraph or min(map(len, lines[:-1])) < WRAPPED_MIN_CHARS
            or 2 * len(_CAPITALISED_LINE.findall(paragraph)) > len(lines) - 1):
        return textwrap.dedent(paragraph)
    return paragraph.replace("\n", " ").strip()


def is_heading(paragraph: str) -> bool:
    if len(paragraph) >= 200 or paragraph.lstrip()[:1] not in _HEADING_FIRST:
        return False
    line = paragraph.partition("\n")[0].strip()
    return len(line) <= 80 and _HEADING.fullmatch(line) is not None


def _blocks(body: str, doc_chars: int) -> Iterator[str]:
    """The body's blank-line-separated blocks; one longer than doc_chars (a book that marks
    paragraphs by indentation alone, a long poem) is cut at line breaks."""
    for block in _PARAGRAPH_BREAK.split(body.strip("\n")):
        if len(block) <= doc_chars:
            yield block
            continue
        piece, size = [], 0
        for line in block.split("\n"):
            if piece and size + len(line) > doc_chars:
                yield "\n".join(piece)
                piece, size = [], 0
            piece.append(line)
            size += len(line) + 1
        yield "\n".join(piece)


def split_book(body: str, doc_chars: int) -> list[str]:
    """The body's paragraphs, unwrapped, grouped into documents (see the module doc)."""
    blocks = list(_blocks(_NOTICE.sub("", body), doc_chars))
    # the transcriber's credit ("Produced by ...") opens most bodies; it is not the book's
    for i in range(min(3, len(blocks))):
        if _CREDITS.match(blocks[i].lstrip()):
            blocks[i] = ""
    min_chars = doc_chars // 10
    parts, current, size = [], [], 0
    heading_last = False  # current ends with a heading: it goes with the next paragraph
    for block in blocks:
        paragraph = unwrap(block)
        if not paragraph:
            continue
        heading = is_heading(block)
        if size >= min_chars and (heading or size + len(paragraph) > doc_chars):
            carried = [current.pop()] if heading_last and len(current) > 1 else []
            parts.append("\n\n".join(current))
            current, size = carried, sum(len(p) + 2 for p in carried)
        current.append(paragraph)
        size += len(paragraph) + 2
        heading_last = heading
    if current:
        if parts and size < min_chars:  # "THE END", a transcriber's note: onto the last part
            parts[-1] += "\n\n" + "\n\n".join(current)
        else:
            parts.append("\n\n".join(current))
    return parts


class GutenbergReader(CountingReader):
    """Project Gutenberg books; see the module doc. Skips: no_gutenberg_markers, empty_text
    (nothing between the markers), html_book (an HTML page saved as .txt: 2 in the sample),
    truncated (a compressed file cut short: the book is incomplete and its end marker lost),
    unreadable (not decompressible)."""

    name = "📚 Project Gutenberg"

    def __init__(self, files, source: str, limit: int = -1, lang: str | None = None, doc_chars: int = DOC_CHARS):
        super().__init__(files, source, limit, lang)
        if doc_chars < 100:
            raise ValueError(f"doc_chars: {doc_chars} must be >= 100")
        self.doc_chars = doc_chars
        self.names = relative_names(self.files)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        self._taken: dict[str, str] = {}  # book id -> the file that has it
        yield from super().run(data, rank, world_size)

    def records(self, path: str) -> Iterator[Book | Skip]:
        """One Book per file, from a peek at its header: every task reads every header, in
        the same order, so they all give a book the same id; the task that converts the book
        reads the rest."""
        try:
            head = read_head(path, HEAD_CHARS, lambda head: _START.search(head.decode("utf-8", "ignore")) is not None)
        except (*STREAM_ERRORS, InputError) as exc:
            reason = "truncated" if isinstance(exc, EOFError) else "unreadable"
            yield Skip(reason, f"{path}: {reason}: {type(exc).__name__}: {exc}")
            return
        if b"\n" in head:  # a prefix: whole lines only, no UTF-8 character cut in two
            head = head[: head.rfind(b"\n") + 1]
        head = decode(head)
        start = _START.search(head)
        metadata = parse_header(head[: start.start()] if start else head)
        native = metadata["ebook_number"] or Path(self.names[path]).stem
        if native in self._taken:
            yield Skip(None, f"{path}: book id {native!r} is taken by {self._taken[native]}; "
                             f"this book's ids use {native}-2")
            native = f"{native}-2"
        self._taken[native] = path
        yield Book(path, native, metadata)

    def convert(self, book: Book) -> list[Document] | str:
        try:
            data, cut = read_all(book.path)
        except InputError as exc:  # a zip of several files
            self.error(str(exc))
            return "unreadable"
        if cut:
            self.error(f"{book.path}: cut short at uncompressed byte {cut.offset}; book skipped: {cut.message}")
            return "truncated"
        text = decode(data)
        # the markers are near the ends: search there first, the whole text only if need be
        start = _START.search(text, 0, MARKER_WINDOW)
        if start is None or start.end() == MARKER_WINDOW:  # none, or a marker line cut by the window
            start = _START.search(text)
        if start is None:
            self.error(f"{book.path}: no Project Gutenberg start marker (*** START OF THE PROJECT GUTENBERG "
                       f"EBOOK ...); book skipped rather than kept with its license")
            return "no_gutenberg_markers"
        end = _END.search(text, max(start.end(), len(text) - MARKER_WINDOW)) or _END.search(text, start.end())
        if end is None:
            self.error(f"{book.path}: no Project Gutenberg end marker; kept the text to the end of the file")
        body = text[start.end(): end.start() if end else len(text)]
        if len(_HTML_TAG.findall(body, 0, HEAD_CHARS)) >= 5:
            self.error(f"{book.path}: the book is HTML, not plain text; skipped")
            return "html_book"
        parts = split_book(body, self.doc_chars)
        if not parts:
            return "empty_text"
        metadata = {**book.metadata, "lang": book.metadata["lang"] or self.lang}
        return [self.document(part, f"{book.native_id}/{i}", **metadata) for i, part in enumerate(parts)]

