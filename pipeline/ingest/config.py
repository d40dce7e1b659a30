"""Ingest configuration: the sources to read and how."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Literal

from pipeline.ingest.gutenberg import DOC_CHARS
from pipeline.ingest.readers import DISAMBIGUATION_TEMPLATES, DROPPED_SECTIONS

SourceKind = Literal["wikipedia_xml", "wikipedia_parquet", "warc", "wet", "wikiextractor", "gutenberg", "text",
                     "jsonl"]
# Options of one kind only: setting one on a source of another kind is an error, not ignored.
KIND_OPTIONS = {"format": "wikiextractor", "doc_chars": "gutenberg", "unit": "text", "text_field": "jsonl",
                "id_field": "jsonl"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")  # it prefixes ids and shard names: no '/' or '-'
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Source:
    name: str  # prefixes document ids (<name>/<native id>) and names the shards
    kind: SourceKind
    uri: str  # path or glob (relative to data_root) or http(s) URL
    limit: int = -1  # cap on records read (pages, rows, WARC responses, books, lines), for sampling; -1: all
    sha256: str | None = None  # checksum of a downloaded (http) file
    # language code; default: dump siteinfo / parquet file name / none (web). gutenberg: for
    # books whose header names no language (the header's wins); jsonl: a record's "lang" loses to it
    lang: str | None = None
    extractor: Literal["trafilatura", "resiliparse"] = "trafilatura"  # warc: HTML -> text
    disambiguation_templates: list[str] = field(default_factory=lambda: list(DISAMBIGUATION_TEMPLATES))
    dropped_sections: list[str] = field(default_factory=lambda: list(DROPPED_SECTIONS))  # wikipedia_xml
    format: Literal["auto", "text", "json"] = "auto"  # wikiextractor: <doc> text or --json; auto: per file
    doc_chars: int = DOC_CHARS  # gutenberg: target document size; books are cut at chapters
    unit: Literal["file", "line"] = "file"  # text: one document per file or per line
    text_field: str = "text"  # jsonl
    id_field: str | None = None  # jsonl; none: <file>:<line>

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ValueError(f"name: {self.name!r} must be letters, digits, '_' or '.'")
        if self.limit < -1 or self.limit == 0:
            raise ValueError(f"limit: {self.limit} must be -1 (all) or positive")
        if self.sha256 is not None and not _SHA256.match(self.sha256):
            raise ValueError("sha256: expected 64 lowercase hex digits")
        for option, kind in KIND_OPTIONS.items():
            if self.kind != kind and getattr(self, option) != _DEFAULTS[option]:
                raise ValueError(f"{option}: only for sources of kind {kind} ({self.name} is {self.kind})")
        if self.doc_chars < 1000:  # parts that short would fall to curate's length/word-count filters
            raise ValueError(f"doc_chars: {self.doc_chars} must be >= 1000")
        if not self.text_field or self.id_field == "":
            raise ValueError("text_field, id_field: must not be empty")


_DEFAULTS = {f.name: f.default for f in fields(Source) if f.name in KIND_OPTIONS}


@dataclass
class Config:
    data_root: str = "../shared/data"
    docs: str = "data/docs"
    sources: list[Source] = field(default_factory=list)
    workers: int = 2  # datatrove tasks run at once; each reads its share of every source
    # Per page; past it the page is skipped as extract_timeout. Generous, as a timeout that
    # fires on a busy machine but not on an idle one would make the output depend on load.
    extract_timeout_s: float = 30.0
    samples_per_source: int = 3  # documents per source copied to <docs>/samples.jsonl

    def __post_init__(self):
        if not self.sources:
            raise ValueError("sources: list at least one source")
        names = [s.name for s in self.sources]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"sources: duplicate name(s) {', '.join(dupes)}")
        if self.workers < 1:
            raise ValueError(f"workers: {self.workers} must be >= 1")
        if self.extract_timeout_s <= 0:
            raise ValueError("extract_timeout_s: must be > 0")
        if self.samples_per_source < 0:
            raise ValueError("samples_per_source: must be >= 0")
