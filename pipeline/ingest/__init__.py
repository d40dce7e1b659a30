"""ingest: Wikipedia dumps (XML, HF parquet) and Common Crawl (WARC, WET) -> `docs` parquet shards.

API for other code: the datatrove readers in `pipeline.ingest.readers` (WarcHtmlReader,
WetReader, WikipediaXmlReader, WikipediaParquetReader), the extractors in
`pipeline.ingest.extractors` and the output schema `pipeline.schema.DOCS_SCHEMA`.
"""
from pipeline.ingest.config import Config, Source
from pipeline.ingest.stage import run

__all__ = ["Config", "Source", "run"]
