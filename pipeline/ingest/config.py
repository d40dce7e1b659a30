"""Ingest configuration: the sources to read and how."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pipeline.ingest.readers import DISAMBIGUATION_TEMPLATES, DROPPED_SECTIONS

SourceKind = Literal["wikipedia_xml", "wikipedia_parquet", "warc", "wet"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")  # it prefixes ids and shard names: no '/' or '-'
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Source:
    name: str  # prefixes document ids (<name>/<native id>) and names the shards
    kind: SourceKind
    uri: str  # path or glob (relative to data_root) or http(s) URL
    limit: int = -1  # cap on records read (pages, rows, WARC responses), for sampling; -1: all
    sha256: str | None = None  # checksum of a downloaded (http) file
    lang: str | None = None  # language code; default: dump siteinfo / parquet file name / none (web)
    extractor: Literal["trafilatura", "resiliparse"] = "trafilatura"  # warc: HTML -> text
    disambiguation_templates: list[str] = field(default_factory=lambda: list(DISAMBIGUATION_TEMPLATES))
    dropped_sections: list[str] = field(default_factory=lambda: list(DROPPED_SECTIONS))  # wikipedia_xml

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ValueError(f"name: {self.name!r} must be letters, digits, '_' or '.'")
        if self.limit < -1 or self.limit == 0:
            raise ValueError(f"limit: {self.limit} must be -1 (all) or positive")
        if self.sha256 is not None and not _SHA256.match(self.sha256):
            raise ValueError("sha256: expected 64 lowercase hex digits")


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
