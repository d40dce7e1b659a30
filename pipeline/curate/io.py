"""Reading and writing the `docs` layout (flat columns) as datatrove Documents.

Columns other than id/text travel in `Document.metadata`; writers flatten them back. Schemas
are explicit because datatrove's ParquetWriter otherwise takes them from the first row, where
a null url or title would fix the column's type to null.
"""
from __future__ import annotations

import pyarrow as pa
from datatrove.data import Document
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import ParquetWriter

from pipeline.schema import METADATA_COLUMNS

META_FIELDS = METADATA_COLUMNS  # ingest's columns, the Gutenberg metadata among them
DOC_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string())]
                       + [(name, pa.string()) for name in META_FIELDS])
# recipe: the curate.recipes entry the document's source matched (null: the base settings, or a
# document removed by dedup/decontamination, which run across all sources)
REMOVED_SCHEMA = DOC_SCHEMA.append(pa.field("reason", pa.string())).append(pa.field("recipe", pa.string()))


class DocsReader(ParquetReader):
    """ParquetReader that keeps documents with empty text (the length step drops them with a
    reason instead of the reader skipping them uncounted) and, with `stride=True`, splits every
    file by record batch across tasks, so 2 tasks share work even when the input is one shard."""

    name = "📒 Docs"

    def __init__(self, data_folder: str, stride: bool = False, **kwargs):
        super().__init__(data_folder, glob_pattern="*.parquet", batch_size=500, **kwargs)
        self.stride = stride
        self._rank, self._world, self._batches_seen = 0, 1, 0

    def get_document_from_dict(self, data: dict, source_file: str, id_in_file: int | str):
        parsed = self.adapter(data, source_file, id_in_file)
        parsed.pop("media", None)
        parsed["text"] = parsed.get("text") or ""
        return Document(**parsed)

    def read_file(self, filepath: str):
        import pyarrow.parquet as pq

        with self.data_folder.open(filepath, "rb") as f, pq.ParquetFile(f) as pqf:
            for i, batch in enumerate(pqf.iter_batches(batch_size=self.batch_size)):
                self._batches_seen += 1  # counted across files: small files spread over tasks too
                if (self._batches_seen - 1) % self._world != self._rank:
                    continue
                with self.track_time("batch"):
                    docs = [self.get_document_from_dict(row, filepath, f"{i}_{j}")
                            for j, row in enumerate(batch.to_pylist())]
                yield from docs

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if not self.stride:
            yield from super().run(data, rank, world_size)
            return
        self._rank, self._world = rank, world_size
        files = self.data_folder.list_files(recursive=self.recursive, glob_pattern=self.glob_pattern)
        for doc in self.read_files_shard(files):
            self.update_doc_stats(doc)
            yield doc


class DocsWriter(ParquetWriter):
    """Writes the flat docs schema; with `reason`, the removed-docs schema, where the reason is
    the filter's own (datatrove's `filter_reason`) or `reason` for steps that give none, and
    `recipe` the document's curate recipe."""

    name = "📒 Docs"

    def __init__(self, output_folder: str, reason: str | None = None):
        super().__init__(output_folder, output_filename="${rank}.parquet", compression="zstd",
                         schema=REMOVED_SCHEMA if reason else DOC_SCHEMA)
        self.reason = reason

    def _default_adapter(self, document: Document) -> dict:
        meta = document.metadata
        row = {"id": str(document.id), "text": document.text,
               **{name: _str_or_none(meta.get(name)) for name in META_FIELDS}}
        if self.reason:
            row["reason"] = meta.get("filter_reason") or self.reason
            row["recipe"] = meta.get("recipe")
        return row


def _str_or_none(value) -> str | None:
    return None if value is None else str(value)
