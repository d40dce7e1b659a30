"""datatrove readers for Wikipedia dumps, Wikipedia parquet, WARC (HTML) and WET files.

Each is a datatrove `BaseReader`, usable in any datatrove pipeline:

    from pipeline.ingest.readers import WarcHtmlReader
    from pipeline.ingest.extractors import make_extractor
    pipeline = [WarcHtmlReader(files, source="webdocs"), make_extractor("trafilatura", 30), ...]

They share one contract (`CountingReader`): every record read is either yielded as a Document
or counted in `skipped` under a reason, so `records_read == documents + sum(skipped)`; file
problems that do not lose a record are kept in `errors`. Documents carry `source`, `url`,
`title`, `timestamp` and `lang` in their metadata.
"""
from __future__ import annotations

import os
import re
from abc import abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseReader
from datatrove.utils.logging import logger
from resiliparse.parse.encoding import bytes_to_str

from pipeline.formats.inputs import plain_name
from pipeline.ingest.mediawiki import Broken, Page, SiteInfo, iter_dump, read_namespace_aliases, siteinfo_json
from pipeline.ingest.warc import Unreadable, WarcRecord, decode_html, html_title, is_html, iter_warc, language_codes
from pipeline.ingest.wikitext import CANONICAL_DROPPED_LINK_NAMESPACES, clean_wikitext, is_disambiguation

# en.wikipedia's disambiguation templates and their common redirects; names ending in
# " disambiguation" match too. Other languages: add theirs in params (fr "homonymie",
# de "Begriffsklärung", es "desambiguación").
DISAMBIGUATION_TEMPLATES = ("disambiguation", "disambig", "dab", "disamb", "hndis", "geodis",
                            "numberdis", "homonymie", "begriffsklärung", "desambiguación")
# Sections made of citations and links, no prose (the HF wikimedia/wikipedia text has none).
DROPPED_SECTIONS = ("References", "External links", "See also", "Further reading", "Notes",
                    "Bibliography", "Sources", "Citations", "Footnotes")
PARQUET_COLUMNS = ("id", "url", "title", "text")
# Language from a file or directory name: en-leads.parquet, enwiki-...-pages-articles.xml.bz2,
# wikimedia/wikipedia/20231101.en/train-00000-of-00041.parquet
_LANG_IN_NAME = re.compile(r"^([a-z]{2,3})(?:wiki)?[-_.]")
_LANG_IN_DIR = re.compile(r"\.([a-z]{2,3}(?:-[a-z]+)?)$")
MAX_ERRORS = 100  # file problems kept per reader and task


@dataclass
class Skip:
    """A record that is not a document (counted under `reason` `count` times) or, with no
    reason, an error that loses no record."""
    reason: str | None
    error: str | None = None
    count: int = 1


def relative_names(files: list[str]) -> dict[str, str]:
    """Each file's path below the files' common directory, compression suffix dropped
    (AA/wiki_00, books/a.txt): ids built on it are unique and do not depend on where the
    data lives."""
    if not files:
        return {}
    root = os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files])
    return {f: str(Path(os.path.relpath(os.path.abspath(f), root)).with_name(plain_name(f))) for f in files}


def lang_from_path(path: str | Path) -> str | None:
    path = Path(path)
    match = _LANG_IN_NAME.match(path.name) or _LANG_IN_DIR.search(path.parent.name)
    return match.group(1) if match else None


class CountingReader(BaseReader):
    """Reads `files` in order and counts every record.

    Every task reads every file but converts only the candidate records whose index is its
    rank modulo world_size: tasks stay balanced whatever the file sizes (the webdocs files
    run from 2.7 to 21 MB), and `limit` (a cap on candidate records) takes the same prefix of
    the input however many tasks run. Reading past the other tasks' records is cheap next to
    converting or extracting one (0.35 s to decompress and split 3,547 webdocs records).
    Records that are no candidates and file-level errors are counted by task 0 alone.
    """

    type = "📖 - READER"

    def __init__(self, files: list[str | Path], source: str, limit: int = -1, lang: str | None = None):
        super().__init__(limit=limit)
        self.files = [str(f) for f in files]
        self.source = source
        self.lang = lang
        self.records_read = 0
        self.skipped: Counter[str] = Counter()
        self.errors: list[str] = []

    @abstractmethod
    def records(self, path: str) -> Iterator[Any]:
        """Candidate records of one file (cheap to produce), or Skip."""

    @abstractmethod
    def convert(self, record: Any) -> Document | list[Document] | str:
        """A Document (or several: a book split into parts, each then counts as a record
        read), or the reason the record is skipped."""

    def document(self, text: str, native_id: str, **metadata) -> Document:
        return Document(text=text, id=f"{self.source}/{native_id}",
                        metadata={"source": self.source, "url": None, "title": None,
                                  "timestamp": None, "lang": self.lang, **metadata})

    def _skip(self, reason: str | None, count: int = 1) -> None:
        if reason:
            self.records_read += count
            self.skipped[reason] += count
            self.stat_update(reason, value=count)

    def error(self, message: str) -> None:
        """Keep (and log) a file problem, one line naming the file. Past MAX_ERRORS they are
        dropped, the skip counts still counting their records: one bad file could otherwise
        fill the metrics and the log with a line per record."""
        if len(self.errors) < MAX_ERRORS:
            # Only to the task's log file: the stage prints every task's errors once after the
            # run (stage._log_errors); a warning here reached the console from local rank 0 only.
            logger.debug(f"{self.source}: {message}")
            self.errors.append(message)
        elif len(self.errors) == MAX_ERRORS:
            self.errors.append(f"... more errors not kept (see the skip counts); the first {MAX_ERRORS} are above")

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        candidates = 0
        for path in self.files:
            for record in self.records(path):
                if isinstance(record, Skip):
                    if rank == 0:
                        self._skip(record.reason, record.count)
                        if record.error:
                            self.error(record.error)
                    continue
                if candidates == self.limit:
                    return
                candidates += 1
                if (candidates - 1) % world_size != rank:
                    continue
                with self.track_time():
                    result = self.convert(record)
                if isinstance(result, str):
                    self._skip(result)
                    continue
                for doc in [result] if isinstance(result, Document) else result:
                    self.records_read += 1
                    self.update_doc_stats(doc)
                    yield doc


class WikipediaXmlReader(CountingReader):
    """Articles of MediaWiki pages-articles XML dumps (plain, .bz2 incl. multistream, .gz).

    Skips, by reason: non_article_namespace (ns != 0), redirect, non_wikitext (content
    model), disambiguation, empty_text, and `truncated` for a page cut off where the dump
    stops being readable (a .bz2 or XML cut short, a bad byte, a corrupt block); the pages
    before it are kept, those found after it are `unreadable_after_error` (past a corrupt
    stream of a multistream .bz2, from the next stream on), and the offset is in `errors`. lang comes from the dump's siteinfo (else the root's xml:lang) unless given;
    exports older than schema 0.6 (no <ns>) get each page's namespace from its title prefix.
    Namespace aliases come from the siteinfo-namespaces JSON beside the dump when there is one
    (an unreadable one is an error in `errors`; the dump is read with its XML names alone).
    """

    name = "📖 Wikipedia XML"

    def __init__(self, files, source: str, limit: int = -1, lang: str | None = None,
                 disambiguation_templates=DISAMBIGUATION_TEMPLATES, dropped_sections=DROPPED_SECTIONS):
        super().__init__(files, source, limit, lang)
        self.disambiguation_templates = tuple(disambiguation_templates)
        self.dropped_sections = tuple(dropped_sections)

    def records(self, path: str) -> Iterator[tuple[SiteInfo, Page] | Skip]:
        site, aliases, sidecar = SiteInfo(), {}, siteinfo_json(path)
        if sidecar:
            try:
                aliases = read_namespace_aliases(sidecar)
            except ValueError as exc:
                yield Skip(None, str(exc))
        for item in iter_dump(path, aliases):
            if isinstance(item, SiteInfo):
                site = item
            elif isinstance(item, Page):
                yield site, item
            else:
                yield from self._broken(path, item)

    @staticmethod
    def _broken(path: str, item: Broken) -> Iterator[Skip]:
        where = "inside a page" if item.in_page else "between pages"
        after = (f", {item.pages_after} pages after it not read (unreadable_after_error)" if item.pages_after
                 else "")
        if item.streams_skipped:
            after += (f", counted from the next stream on: {item.streams_skipped} corrupt bz2 stream"
                      f"{'s' if item.streams_skipped > 1 else ''} passed over (the rest of their pages not counted)")
        if item.rest_unreadable:
            after += ", the rest of the file cannot be decompressed (its pages are not counted)"
        yield Skip("truncated" if item.in_page else None,
                   f"{path}: dump unreadable from uncompressed byte {item.offset} ({where}); "
                   f"pages before it kept{after}: {item.message}")
        if item.pages_after:
            yield Skip("unreadable_after_error", count=item.pages_after)

    def convert(self, record: tuple[SiteInfo, Page]) -> Document | str:
        site, page = record
        if page.ns != 0:
            return "non_article_namespace"
        if page.redirect:
            return "redirect"
        if page.model not in (None, "wikitext"):
            return "non_wikitext"
        if is_disambiguation(page.text, self.disambiguation_templates):
            return "disambiguation"
        # Media (-2), File (6) and Category (14) links under the dump's own names and aliases too
        link_namespaces = (*CANONICAL_DROPPED_LINK_NAMESPACES, *(n for k in (-2, 6, 14) for n in site.names(k)))
        text = clean_wikitext(page.text, link_namespaces, self.dropped_sections)
        if not text:
            return "empty_text"
        return self.document(text, page.id, url=site.page_url(page.title), title=page.title,
                             timestamp=page.timestamp, lang=self.lang or site.lang)


class WikipediaParquetReader(CountingReader):
    """Rows of the Hugging Face `wikimedia/wikipedia` layout (id, url, title, text). lang is
    the configured one, else read from the file or directory name (en-leads.parquet,
    20231101.en/). Skips: empty_text; `unreadable` for the rows of a corrupt row group."""

    name = "📖 Wikipedia parquet"

    def records(self, path: str) -> Iterator[dict | Skip]:
        lang = self.lang or lang_from_path(path)
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            try:
                rows = parquet.read_row_group(group, columns=list(PARQUET_COLUMNS)).to_pylist()
            except OSError as exc:  # pyarrow's ArrowInvalid/ArrowIOError are OSErrors
                yield Skip("unreadable", f"{path}: row group {group} unreadable: {exc}",
                           count=parquet.metadata.row_group(group).num_rows)
                continue
            for row in rows:
                row["lang"] = lang
                yield row

    def convert(self, row: dict) -> Document | str:
        if not (row["text"] or "").strip():
            return "empty_text"
        return self.document(row["text"], str(row["id"]), url=row["url"], title=row["title"],
                             lang=row["lang"])


class WarcReaderBase(CountingReader):
    """Records of WARC-format files whose WARC-Type is `record_type`; the other records are
    counted as `not_<record_type>`. Unreadable records count as `unreadable` (a corrupt
    gzip member: the rest of the file is still read) or `truncated` (the file ends inside
    the record)."""

    record_type: str

    def records(self, path: str) -> Iterator[WarcRecord | Skip]:
        for record in iter_warc(path):
            if isinstance(record, Unreadable):
                yield Skip("truncated" if record.cut_short else "unreadable",
                           f"{path}: {record.message} at byte {record.offset}")
            elif record.rec_type != self.record_type:
                yield Skip(f"not_{self.record_type}")
            else:
                yield record


class WarcHtmlReader(WarcReaderBase):
    """HTML responses of WARC files, decoded to str (follow with an extractor step).

    Unlike datatrove's WarcReader, a record without WARC-Identified-Payload-Type is judged by
    its HTTP Content-Type, so XHTML pages are kept, and the charset comes from the HTTP
    header, the <meta> tag or detection. Skips: http_status (not 2xx), empty_payload,
    non_html.
    """

    name = "🕷 WARC HTML"
    record_type = "response"

    def convert(self, record: WarcRecord) -> Document | str:
        if record.http_status is not None and not 200 <= record.http_status < 300:
            return "http_status"
        if not record.payload or record.payload.isspace():
            return "empty_payload"
        if not is_html(record):
            return "non_html"
        page = decode_html(record.payload, record.http_content_type)
        return self.document(page, record.record_id, url=record.url, title=html_title(page),
                             timestamp=record.date)


class WetReader(WarcReaderBase):
    """Text of WET conversion records (Common Crawl's own HTML-to-text). Skips: empty_text.
    lang: the configured one, else the first language Common Crawl identified
    (WARC-Identified-Content-Language, since CC-MAIN-2018-39); `content_languages` keeps them
    all, as lang codes, primary first ("en,de")."""

    name = "🕷 WET"
    record_type = "conversion"

    def convert(self, record: WarcRecord) -> Document | str:
        text = bytes_to_str(record.payload, "utf-8").strip()
        if not text:
            return "empty_text"
        languages = language_codes(record.content_languages)
        return self.document(text, record.record_id, url=record.url, timestamp=record.date,
                             lang=self.lang or next(iter(languages), None),
                             content_languages=",".join(languages) or None)
