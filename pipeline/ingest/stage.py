"""ingest: sources from params -> `docs` parquet shards + counts for every record read.

Hard errors (one line, exit 2, nothing renamed into place) are problems with a whole file,
found before any work starts: a glob matching nothing, a missing or empty file, a file that
is not what its `kind` says (unreadable from its first byte, parquet without the columns).
Problems inside a file that still has readable records are counted skips with the file and
byte offset in `errors`: a dump or WARC cut short (`truncated`), a corrupt gzip member
(`unreadable`, the rest of the file is read), non-HTML or empty pages, and so on.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.writers import ParquetWriter

from pipeline import sources as sourcelib
from pipeline.artifacts import atomic_dir, partial_path, save_config, write_text_atomic
from pipeline.config import resolve_path, to_dict
from pipeline.errors import InputError
from pipeline.ingest.config import Config, Source
from pipeline.ingest.extractors import make_extractor
from pipeline.ingest.inputs import check_nonempty
from pipeline.ingest.mediawiki import Broken, iter_dump
from pipeline.ingest.readers import (PARQUET_COLUMNS, WarcHtmlReader, WetReader, WikipediaParquetReader,
                                     WikipediaXmlReader)
from pipeline.ingest.schema import DOCS_SCHEMA, document_to_row
from pipeline.ingest.step import IngestSources, SourcePipeline
from pipeline.ingest.warc import Unreadable, iter_warc

log = logging.getLogger(__name__)
STATE_DIR = ".ingest"  # inside <docs>.partial: executor logs, completion markers, task reports
SAMPLE_CHARS = 500


def run(cfg: Config) -> dict:
    pipelines = [_source_pipeline(cfg, source) for source in cfg.sources]
    out = resolve_path(cfg.docs)
    fingerprint = _fingerprint(cfg, pipelines)
    marker = partial_path(out) / STATE_DIR / "fingerprint"
    # A run killed midway resumes from datatrove's completion markers, but only for the same
    # config, input files and code; anything else starts from scratch.
    resume = marker.exists() and marker.read_text() == fingerprint
    with atomic_dir(out, resume=resume) as work:
        state = work / STATE_DIR
        state.mkdir(exist_ok=True)
        (state / "fingerprint").write_text(fingerprint)
        writer = ParquetWriter(str(work), output_filename="${source}-${rank}.parquet", adapter=document_to_row,
                               schema=DOCS_SCHEMA, compression="zstd")
        LocalPipelineExecutor([IngestSources(pipelines, str(state / "reports")), writer],
                              tasks=cfg.workers, workers=cfg.workers, logging_dir=str(state / "logs")).run()
        metrics = _collect(state / "reports", cfg.workers, [s.name for s in cfg.sources])
        _check_shards(work, metrics, cfg.samples_per_source)
        save_config(cfg, work)
        shutil.rmtree(state)  # logs and markers would make the output differ run to run
    for name, m in metrics["sources"].items():
        log.info("%s: %d records -> %d docs in %.1fs; skipped %s", name, m["records"], m["kept"],
                 m["seconds"], m["skipped"] or "none")
    return metrics


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
    else:
        reader = WetReader(**common)
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
    reader, kind = (iter_dump, "MediaWiki XML dump") if source.kind == "wikipedia_xml" else (iter_warc, "WARC file")
    with contextlib.closing(reader(path)) as items:
        first = next(items, None)
    if first is None or isinstance(first, (Broken, Unreadable)):
        why = f"{first.message} at byte {first.offset}" if first else "no record"
        raise InputError(f"{path}: not a readable {kind} ({source.name} is kind {source.kind}): {why}")


def _fingerprint(cfg: Config, pipelines: list[SourcePipeline]) -> str:
    digest = hashlib.sha256(json.dumps(to_dict(cfg), sort_keys=True).encode())
    for pipeline in pipelines:
        for path in pipeline.reader.files:
            stat = Path(path).stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for code in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(code.read_bytes())
    return digest.hexdigest()


def _collect(report_dir: Path, tasks: int, names: list[str]) -> dict:
    """Sum the tasks' reports; every record read must be kept or skipped with a reason."""
    reports = [json.loads((report_dir / f"{rank:05d}.json").read_text()) for rank in range(tasks)]
    per_source = {}
    for name in names:
        parts = [r[name] for r in reports]
        skipped = sum((Counter(p["skipped"]) for p in parts), Counter())
        m = {"records": sum(p["records"] for p in parts), "kept": sum(p["kept"] for p in parts),
             "skipped": dict(sorted(skipped.items())), "errors": [e for p in parts for e in p["errors"]],
             "seconds": max(p["seconds"] for p in parts)}
        if m["records"] != m["kept"] + sum(skipped.values()):
            raise RuntimeError(f"ingest: {name}: {m['records']} records read but {m['kept']} kept "
                               f"+ {sum(skipped.values())} skipped")
        m["docs_per_s"] = round(m["kept"] / m["seconds"], 1) if m["seconds"] else None
        per_source[name] = m
    total_skipped = sum((Counter(m["skipped"]) for m in per_source.values()), Counter())
    return {"docs": sum(m["kept"] for m in per_source.values()),
            "records": sum(m["records"] for m in per_source.values()),
            "skipped": dict(sorted(total_skipped.items())), "workers": tasks, "sources": per_source}


def _check_shards(work: Path, metrics: dict, samples_per_source: int) -> None:
    """The shards hold exactly the kept documents, under unique ids. Adds chars per source and
    writes the first documents (by id) of each source, shortened, to samples.jsonl."""
    docs = ds.dataset(sorted(str(p) for p in work.glob("*.parquet")), format="parquet", schema=DOCS_SCHEMA)
    index, chars = _scan(docs)
    if index.num_rows == 0:
        raise InputError("ingest: no document kept from any source; skipped: "
                         + json.dumps({n: m["skipped"] for n, m in metrics["sources"].items()}))
    if pc.count_distinct(index.column("id")).as_py() != index.num_rows:
        dupe = next(c["values"] for c in pc.value_counts(index.column("id")).to_pylist() if c["counts"] > 1)
        raise InputError(f"ingest: document id {dupe!r} occurs more than once: the same record is in the input twice")
    rows = Counter(index.column("source").to_pylist())
    for name, m in metrics["sources"].items():
        if rows[name] != m["kept"]:
            raise RuntimeError(f"ingest: {name}: {m['kept']} documents kept but {rows[name]} written")
        m["chars"] = chars[name]
    metrics["chars"] = sum(chars.values())
    _write_samples(work / "samples.jsonl", docs, index, samples_per_source)


def _scan(docs: ds.Dataset) -> tuple[pa.Table, Counter]:
    """(id, source) of every document, and characters per source, without holding the texts."""
    ids, sources, chars = [], [], Counter()
    for batch in docs.to_batches(columns=["id", "source", "text"]):
        ids.append(batch.column("id"))
        sources.append(batch.column("source"))
        lengths = pc.utf8_length(batch.column("text")).to_pylist()
        for source, length in zip(batch.column("source").to_pylist(), lengths):
            chars[source] += length
    index = pa.table({"id": pa.chunked_array(ids, pa.string()), "source": pa.chunked_array(sources, pa.string())})
    return index, chars


def _write_samples(path: Path, docs: ds.Dataset, index: pa.Table, per_source: int) -> None:
    order = [("source", "ascending"), ("id", "ascending")]
    taken, wanted = Counter(), []
    for row in index.sort_by(order).to_pylist():
        taken[row["source"]] += 1
        if taken[row["source"]] <= per_source:
            wanted.append(row["id"])
    samples = docs.to_table(filter=pc.field("id").isin(wanted)).sort_by(order).to_pylist()
    write_text_atomic(path, "".join(json.dumps({**row, "text": row["text"][:SAMPLE_CHARS]}, ensure_ascii=False)
                                    + "\n" for row in samples))
