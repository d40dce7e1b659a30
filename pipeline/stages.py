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
    "ner": ("pipeline.ner", "named-entity recognition (CoNLL-2003): fine-tuned encoders vs spaCy, entity F1"),
    "qa": ("pipeline.qa", "extractive QA (SQuAD v1.1 -> XQuAD-en): span heads vs a sliding window, EM/F1"),
    "summarization": ("pipeline.summarization", "dialogue summarization (DialogSum): seq2seq vs extracts, ROUGE"),
    "translation": ("pipeline.translation", "en->de translation (Multi30K): seq2seq vs copying, BLEU/chrF"),
    "report": ("pipeline.report", "headline numbers of every stage as JSON + markdown"),
}

# The application stages beside GLUE (pipeline/apps): the report shows a table each, curate's
# decontamination reads their evaluation sets (paths.<app>_eval).
APPLICATIONS = ("ner", "qa", "summarization", "translation")


def load(name: str) -> ModuleType:
    """The stage module: exposes `Config` and `run(cfg) -> dict`."""
    return importlib.import_module(STAGES[name][0])
