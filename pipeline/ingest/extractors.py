"""HTML -> main text, as datatrove extractor steps (each runs in datatrove's timeout sandbox).

trafilatura is the quality default (FineWeb's choice); Resiliparse is ~25x faster here
(bench/ingest.py) at the cost of more boilerplate kept. trafilatura's `deduplicate` is off:
it drops paragraphs already seen by the same process, so a page's text would depend on which
pages the worker happened to read before it, and dedup is curate's job.
"""
from __future__ import annotations

from typing import Literal

from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.extractors.base import BaseExtractor

ExtractorName = Literal["trafilatura", "resiliparse"]


class Resiliparse(BaseExtractor):
    """Resiliparse's main-content heuristics, keeping headings and list bullets as text."""

    name = "⛏ Resiliparse"
    _requires_dependencies = ["resiliparse"]

    def __init__(self, timeout: float = 1):
        super().__init__(timeout)

    def extract(self, text: str) -> str:
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(text, main_content=True, alt_texts=False, links=False,
                                  form_fields=False, noscript=False, comments=False)


def make_extractor(name: ExtractorName, timeout: float) -> BaseExtractor:
    if name == "trafilatura":
        return Trafilatura(favour_precision=True, deduplicate=False, timeout=timeout)
    if name == "resiliparse":
        return Resiliparse(timeout=timeout)
    raise ValueError(f"unknown extractor {name!r}")
