"""The stage's results: the tasks' counts summed and checked, the shards verified, samples."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipeline.artifacts import write_text_atomic
from pipeline.errors import InputError
from pipeline.schema import DOCS_SCHEMA

SAMPLE_CHARS = 500


def collect_reports(report_dir: Path, tasks: int, names: list[str]) -> dict:
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


def check_shards(work: Path, metrics: dict, samples_per_source: int) -> None:
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
