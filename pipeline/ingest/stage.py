"""ingest: sources from params -> `docs` parquet shards + counts for every record read.

Hard errors (one line, exit 2, nothing renamed into place) are problems with a whole file,
found before any work starts: a glob matching nothing, a missing or empty file, a file that
is not what its `kind` says (unreadable from its first byte, parquet without the columns,
JSON Lines whose first records lack the text field).
Problems inside a file that still has readable records are counted skips with the file and
byte offset in `errors`: a dump or WARC cut short (`truncated`), a corrupt gzip member
(`unreadable`, the rest of the file is read), non-HTML or empty pages, and so on.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

import pyarrow.parquet as pq
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.writers import ParquetWriter

from pipeline import sources as sourcelib
from pipeline.artifacts import atomic_dir, save_config, stage_key
from pipeline.config import resolve_path
from pipeline.errors import InputError
from pipeline.ingest.config import Config, Source
from pipeline.ingest.extractors import make_extractor
from pipeline.formats.inputs import STREAM_ERRORS, check_nonempty, read_head
from pipeline.ingest.mediawiki import Broken, iter_dump
from pipeline.ingest.output import check_shards, collect_reports
from pipeline.ingest import gutenberg, textfiles, wikiextractor
from pipeline.ingest.readers import (PARQUET_COLUMNS, WarcHtmlReader, WetReader, WikipediaParquetReader,
                                     WikipediaXmlReader)
from pipeline.schema import DOCS_SCHEMA, document_to_row
from pipeline.ingest.step import IngestSources, SourcePipeline
from pipeline.ingest.warc import Unreadable, iter_warc

log = logging.getLogger(__name__)
HERE = Path(__file__).parent  # this package, and with pipeline/formats the code a resume key covers
STATE_DIR = ".ingest"  # inside <docs>.partial: executor logs, completion markers, task reports


def run(cfg: Config) -> dict:
    pipelines = [_source_pipeline(cfg, source) for source in cfg.sources]
    out = resolve_path(cfg.docs)
    # A run killed midway resumes from datatrove's completion markers, but only for the same
    # config, input files and code; anything else starts from scratch.
    inputs = [Path(path) for pipeline in pipelines for path in pipeline.reader.files]
    with atomic_dir(out, key=stage_key(cfg, inputs, [HERE, HERE.parent / "formats"])) as work:
        state = work / STATE_DIR
        state.mkdir(exist_ok=True)
        writer = ParquetWriter(str(work), output_filename="${source}-${rank}.parquet", adapter=document_to_row,
                               schema=DOCS_SCHEMA, compression="zstd")
        LocalPipelineExecutor([IngestSources(pipelines, str(state / "reports")), writer],
                              tasks=cfg.workers, workers=cfg.workers, logging_dir=str(state / "logs")).run()
        metrics = collect_reports(state / "reports", cfg.workers, [s.name for s in cfg.sources])
        _log_errors(metrics)  # before check_shards, which may fail for want of documents
        check_shards(work, metrics, cfg.samples_per_source)
        save_config(cfg, work)
        shutil.rmtree(state)  # logs and markers would make the output differ run to run
    for name, m in metrics["sources"].items():
        log.info("%s: %d records -> %d docs in %.1fs; skipped %s", name, m["records"], m["kept"],
                 m["seconds"], m["skipped"] or "none")
    return metrics


def _log_errors(metrics: dict) -> None:
    """Every task's file errors, once each, from this process. The readers keep them out of
    the console (CountingReader.error): datatrove shows a worker's warnings only on local
    rank 0, so those of the other workers reached metrics/ingest.json alone."""
    for name, m in metrics["sources"].items():
        for error in m["errors"]:
            log.warning("%s: %s", name, error)


def _source_pipeline(cfg: Config, source: Source) -> SourcePipeline:
    files = sourcelib.resolve(source.uri, cfg.data_root, source.sha256)
    for path in files:
        _preflight(source, path)
    common = dict(files=files, source=source.name, limit=source.limit, lang=source.lang)
    if source.kind == "wikipedia_xml":
        reader = WikipediaXmlReader(**common, disambiguation_templates=source.disambiguation_templates,
                                    dropped_sections=source.dropped_sections)
    elif source.kind == "wikipedia_parquet":
        reader = WikipediaParquetReader(**common)
    elif source.kind == "warc":
        return SourcePipeline(source.name, WarcHtmlReader(**common),
                              make_extractor(source.extractor, cfg.extract_timeout_s))
    elif source.kind == "wet":
        reader = WetReader(**common)
    elif source.kind == "wikiextractor":
        reader = wikiextractor.WikiextractorReader(**common, format=source.format)
    elif source.kind == "gutenberg":
        reader = gutenberg.GutenbergReader(**common, doc_chars=source.doc_chars)
    elif source.kind == "text":
        reader = textfiles.TextReader(**common, unit=source.unit)
    else:
        reader = textfiles.JsonlReader(**common, text_field=source.text_field, id_field=source.id_field)
    return SourcePipeline(source.name, reader)


def _preflight(source: Source, path: Path) -> None:
    """Hard errors, found before any work: a file that is empty or not of its source's kind."""
    check_nonempty(path)
    if source.kind == "wikipedia_parquet":
        try:
            names = set(pq.read_schema(path).names)
        except OSError as exc:
            raise InputError(f"{path}: not a readable parquet file: {exc}") from None
        if missing := [c for c in PARQUET_COLUMNS if c not in names]:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)} "
                             f"(expected the wikimedia/wikipedia layout: {', '.join(PARQUET_COLUMNS)})")
        return
    if source.kind in ("wikiextractor", "gutenberg", "text", "jsonl"):
        try:
            if source.kind == "wikiextractor":
                wikiextractor.check_file(path, source.format)
            elif source.kind == "jsonl":
                textfiles.check_jsonl(path, source.text_field, source.id_field)
            else:
                read_head(path, 1)
        except STREAM_ERRORS as exc:
            raise InputError(f"{path}: not readable ({source.name} is kind {source.kind}): "
                             f"{type(exc).__name__}: {exc}") from None
        return
    reader, kind = (iter_dump, "MediaWiki XML dump") if source.kind == "wikipedia_xml" else (iter_warc, "WARC file")
    with contextlib.closing(reader(path)) as items:
        first = next(items, None)
    if first is None or isinstance(first, (Broken, Unreadable)):
        why = f"{first.message} at byte {first.offset}" if first else "no record"
        raise InputError(f"{path}: not a readable {kind} ({source.name} is kind {source.kind}): {why}")


