"""Corpus BLEU (Papineni et al. 2002) and chrF (Popovic 2015) with sacreBLEU (Post 2018), its
defaults: BLEU on 13a-tokenized, case-sensitive text with exponential smoothing; chrF with
character 6-grams and beta 2. Each score comes with its sacreBLEU signature, which says exactly
how it was computed and belongs beside any number reported.

tokenizer_stats says how the checkpoint's tokenizer, trained on English, cuts each language:
tokens per whitespace word and the share of unknown tokens ([UNK]; 0 for a byte-level BPE).
"""
from __future__ import annotations

from sacrebleu.metrics import BLEU, CHRF

METRICS = ["bleu", "chrf"]


def score(predictions: list[str], references: list[str]) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, signatures): BLEU and chrF on 0..100, one reference per sentence."""
    if len(predictions) != len(references) or not predictions:
        raise ValueError(f"bleu: {len(predictions)} predictions for {len(references)} references")
    bleu, chrf = BLEU(), CHRF()
    metrics = {"bleu": bleu.corpus_score(predictions, [references]).score,
               "chrf": chrf.corpus_score(predictions, [references]).score}
    return metrics, {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())}


def tokenizer_stats(tokenizer, sentences: list[str]) -> dict[str, float]:
    ids = tokenizer(sentences, add_special_tokens=False)["input_ids"]
    tokens, words = sum(map(len, ids)), sum(len(s.split()) for s in sentences)
    unk = tokenizer.unk_token_id
    unknown = sum(t == unk for row in ids for t in row) if unk is not None else 0
    return {"tokens_per_word": round(tokens / max(words, 1), 3), "unk_rate": round(unknown / max(tokens, 1), 4)}
