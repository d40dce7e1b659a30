"""The stages, in pipeline order. Modules are imported lazily: torch alone takes seconds."""
from __future__ import annotations

import importlib
from types import ModuleType

# name -> (module, one-line description for `lmpipe --help`)
STAGES: dict[str, tuple[str, str]] = {
    "fetch": ("pipeline.fetch", "check the input data under data_root; download public copies (profile public)"),
    "ingest": ("pipeline.ingest", "Wikipedia dumps and Common Crawl WARC/WET -> documents (parquet)"),
    "curate": ("pipeline.curate", "quality filters and dedup (datatrove); every drop has a reason"),
    "validate": ("pipeline.validate", "Great Expectations gate on the curated documents"),
    "tokenizer": ("pipeline.tokenizer", "train an HF tokenizer and encode the corpus to token shards"),
    "pretrain": ("pipeline.pretrain", "pretrain a transformers model (MLM or causal LM)"),
    "finetune": ("pipeline.finetune", "fine-tune on GLUE tasks and score them with the official metrics"),
    "report": ("pipeline.report", "headline numbers of every stage as JSON + markdown"),
}


def load(name: str) -> ModuleType:
    """The stage module: exposes `Config` and `run(cfg) -> dict`."""
    return importlib.import_module(STAGES[name][0])
