"""The documents dataset (ingest's output, curate's input): one explicit parquet schema.

datatrove's ParquetWriter would otherwise infer the schema from the first batch, so a shard
whose first rows have no title would type the column as null.
"""
from __future__ import annotations

import pyarrow as pa
from datatrove.data import Document

DOCS_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),  # <source>/<native id>: page id, WARC-Record-ID
    pa.field("text", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),  # the source's name in params
    pa.field("url", pa.string()),
    pa.field("title", pa.string()),
    pa.field("timestamp", pa.string()),  # as the input gives it: revision or WARC-Date (ISO 8601)
    pa.field("lang", pa.string()),
    # Book metadata (Project Gutenberg's header; null for other sources)
    pa.field("author", pa.string()),
    pa.field("release_date", pa.string()),
    pa.field("ebook_number", pa.string()),
])
METADATA_COLUMNS = tuple(f.name for f in DOCS_SCHEMA if f.name not in ("id", "text"))


def document_to_row(writer, document: Document) -> dict:
    """datatrove writer adapter: a Document as one flat row of DOCS_SCHEMA."""
    return {"id": document.id, "text": document.text,
            **{name: document.metadata.get(name) for name in METADATA_COLUMNS}}
