"""The traditional baseline (`checkpoint: baseline`): spaCy's trainable entity recognizer, a
transition-based parser over a CNN of hashed word features (spaCy's default `ner` model, no
vectors and no pretraining), trained from scratch on the same sentences the transformers see.

Docs are built from the given words (no spaCy tokenization), so predictions align word for word.
IOB tags go to spans through spaCy's own converters (iob_to_biluo, biluo_tags_to_spans) and come
back through doc_to_biluo_tags + biluo_to_iob, so predictions are IOB2.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.training.iob_utils import biluo_tags_to_spans, biluo_to_iob, doc_to_biluo_tags, iob_to_biluo
from spacy.util import fix_random_seed, minibatch
from spacy.vocab import Vocab

from pipeline.formats.conll import Sentence
from pipeline.config import check_ranges

log = logging.getLogger(__name__)


@dataclass
class SpacyConfig:
    # Sized for the stage's 35 s budget on 2 CPU cores (~4 ms per sentence and pass): on 600
    # CoNLL sentences, 2 passes in batches of 16 scored F1 43 on 400 test sentences; 3 passes in
    # batches of 32, 44 in 40% more time; 2 in batches of 64 (too few updates), 2.
    iterations: int = 2       # passes over the training sentences
    dropout: float = 0.1      # spaCy's training default (default_config.cfg)
    batch_size: int = 16      # sentences per update
    seed: int = 0

    def __post_init__(self):
        checks = {"iterations": self.iterations >= 1, "dropout": 0 <= self.dropout < 1,
                  "batch_size": self.batch_size >= 1}
        check_ranges(self, checks)


def tagged_doc(vocab: Vocab, words: list[str], tags: list[str]) -> Doc:
    """A Doc of exactly these words with the IOB tags as its entities."""
    doc = Doc(vocab, words=words)
    doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(tags))
    return doc


def doc_tags(doc: Doc) -> list[str]:
    """The Doc's entities as IOB2 tags, one per token."""
    return biluo_to_iob(doc_to_biluo_tags(doc))


def fit_spacy(train: list[Sentence], evaluation: list[Sentence], cfg: SpacyConfig) -> tuple[list[list[str]], dict]:
    """Train a blank English pipeline's `ner` on `train`, tag `evaluation`: (tags, extra)."""
    fix_random_seed(cfg.seed)  # seeds Python, NumPy and thinc: the same run, the same model
    nlp = spacy.blank("en")
    nlp.add_pipe("ner")
    examples = [Example(Doc(nlp.vocab, words=s.words), tagged_doc(nlp.vocab, s.words, s.tags)) for s in train]
    optimizer = nlp.initialize(lambda: examples)
    order = random.Random(cfg.seed)
    losses: dict[str, float] = {}
    for iteration in range(cfg.iterations):
        order.shuffle(examples)
        losses = {}
        for batch in minibatch(examples, size=cfg.batch_size):
            nlp.update(batch, drop=cfg.dropout, sgd=optimizer, losses=losses)
        log.debug("spaCy iteration %d: ner loss %.1f", iteration + 1, losses.get("ner", 0.0))
    docs = nlp.pipe(Doc(nlp.vocab, words=s.words) for s in evaluation)
    extra = {"iterations": cfg.iterations, "final_loss": round(float(losses.get("ner", 0.0)), 2)}
    return [doc_tags(doc) for doc in docs], extra
