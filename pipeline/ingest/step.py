"""The ingest pipeline step: every source in turn, with each task's counts saved as JSON.

One datatrove executor runs all sources (instead of one executor per source), so two workers
stay busy even on single-file sources; the readers split each source's records between tasks.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.extractors.base import BaseExtractor

from pipeline.ingest.readers import CountingReader

# datatrove extractor stats -> our skip reasons
EXTRACTOR_DROPS = {"dropped": "empty_text", "timeout": "extract_timeout",
                   "clean_error": "extract_error", "broken_process": "extract_crash"}


@dataclass
class SourcePipeline:
    name: str
    reader: CountingReader
    extractor: BaseExtractor | None = None


class IngestSources(PipelineStep):
    """Yields the documents of each source; writes `report_dir/<rank>.json` with, per source,
    records read, documents kept, skipped records by reason, file errors and seconds."""

    name = "📥 Ingest sources"
    type = "📖 - READER"

    def __init__(self, sources: list[SourcePipeline], report_dir: str):
        super().__init__()
        self.sources = sources
        self.report_dir = report_dir

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        report = {}
        for source in self.sources:
            start = time.perf_counter()
            docs = source.reader.run(None, rank, world_size)
            if source.extractor is not None:
                docs = source.extractor.run(docs, rank, world_size)
            kept = 0
            for doc in docs:
                kept += 1
                self.stat_update(source.name)
                yield doc
            report[source.name] = self._report(source, kept, time.perf_counter() - start)
        path = Path(self.report_dir) / f"{rank:05d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1))

    @staticmethod
    def _report(source: SourcePipeline, kept: int, seconds: float) -> dict:
        skipped = Counter(source.reader.skipped)
        if source.extractor is not None:
            for stat, reason in EXTRACTOR_DROPS.items():
                if count := int(source.extractor.stats[stat].total):
                    skipped[reason] += count
        return {"records": source.reader.records_read, "kept": kept, "skipped": dict(skipped),
                "errors": source.reader.errors, "seconds": round(seconds, 2)}
