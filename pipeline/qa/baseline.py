"""The lexical sliding-window baseline (`checkpoint: baseline`), after the SQuAD paper's
(Rajpurkar et al. 2016, section 5), which follows the MCTest sliding window of Richardson et
al. 2013: answers are the candidates whose surroundings share the most weighted words with the
question. No parser here, so candidates are short n-grams instead of constituents. Deterministic.

    words      regex tokens (a word with inner - ' . , as in "Levi's", "24-10", "1,000", or one
               punctuation mark); compared lower-cased with a final plural "s" removed
    idf        log((N + 1) / (df + 1)) + 1 over the N distinct training contexts (df: contexts
               holding the word); a word never seen gets the highest value
    question   its words that are not stop words (scikit-learn's English list + "did", "does")
    sentence   the context split after . ! ?; the sentence with the largest idf sum of the
               question words it holds is chosen (ties: the first)
    candidates every span of 1..max_span words inside that sentence that contains no
               punctuation and no question word (stop words included) and neither starts nor
               ends with a stop word
    score      sum over the question words found in the sentence of idf / (1 + distance in
               tokens from the span to their nearest occurrence), plus `type_bonus` when the
               question asks for a number or date (when, year, how many/much/long/old, ...) and
               the span holds a digit, or asks who/whom/whose and every word of the span is
               capitalised; ties: the longer, then the earlier span
Settings chosen on the training side, never on XQuAD (every 5th of its 9,380 questions, idf
over all its contexts): EM 19.3 / F1 29.9; type_bonus 0: 12.5 / 21.9; 5: 19.2 / 29.8 (8 and up
make it a type filter: the same as 10); max_span 3: 19.6 / 29.3, 5: 19.1 / 30.0; the shorter span
on ties: 16.5 / 26.8. The SQuAD paper's sliding window scored EM 13.2 / F1 20.2 on SQuAD dev.
On all of XQuAD-en (setting full, measured once, after the choice): EM 15.5 / F1 27.1, where
the context's first three words score 0.6 / 4.2. The idf is over the training questions'
contexts, so the slice setting has a noisier one.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pipeline.formats.squad import Example

TOKEN = re.compile(r"\w+(?:[-'’.,]\w+)*|\S")
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {"did", "does"}
NUMBER_QUESTION = re.compile(r"\b(when|year|how (many|much|long|old)|percent|percentage|date|century|decade|number)\b",
                             re.I)
PERSON_QUESTION = re.compile(r"\b(who|whom|whose)\b", re.I)

Token = tuple[str, int, int]  # text, start char, end char


@dataclass
class SlidingWindow:
    # words per candidate: first answers on the training side average 3.0 of these words, 84%
    # have at most 4
    max_span: int = 4
    # added to a candidate of the asked-for type (number/date, person); 8 or more outweighs any
    # overlap score measured, so the type decides first (see the measurements above)
    type_bonus: float = 10.0

    def __post_init__(self):
        if self.max_span < 1:
            raise ValueError(f"max_span: {self.max_span} < 1")
        if self.type_bonus < 0:
            raise ValueError(f"type_bonus: {self.type_bonus} < 0")


def _word(text: str) -> str:
    w = text.lower()
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def tokens(text: str) -> list[Token]:
    return [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(text)]


def sentences(toks: list[Token]) -> list[list[Token]]:
    out, current = [], []
    for tok in toks:
        current.append(tok)
        if tok[0] in ".!?":
            out.append(current)
            current = []
    return out + [current] if current else out


class Idf:
    def __init__(self, contexts: list[str]):
        self.n = len(set(contexts))
        self.df = Counter(w for c in set(contexts) for w in {_word(t[0]) for t in tokens(c)})

    def __call__(self, word: str) -> float:
        return math.log((self.n + 1) / (self.df.get(word, 0) + 1)) + 1


def answer(example: Example, idf: Idf, cfg: SlidingWindow) -> str:
    question = [_word(t[0]) for t in tokens(example.question)]
    content = {w for w in question if w[0].isalnum()} - STOP_WORDS
    sents = sentences(tokens(example.context))
    if not sents:
        return ""
    overlap = [sum(idf(w) for w in content & {_word(t[0]) for t in s}) for s in sents]
    sent = sents[overlap.index(max(overlap))]
    words = [_word(t[0]) for t in sent]
    where: dict[str, list[int]] = {}
    for i, w in enumerate(words):
        if w in content:
            where.setdefault(w, []).append(i)
    wants_number = bool(NUMBER_QUESTION.search(example.question))
    wants_person = bool(PERSON_QUESTION.search(example.question))
    best = None
    for i in range(len(sent)):
        for j in range(i, min(len(sent), i + cfg.max_span)):
            if not sent[j][0][0].isalnum() or words[j] in question:
                break  # punctuation or a question word: no longer span from i can be a candidate
            if words[i] in STOP_WORDS or words[j] in STOP_WORDS:
                continue
            score = sum(idf(w) / (1 + min(min(abs(p - i), abs(p - j)) for p in ps)) for w, ps in where.items())
            span = sent[i:j + 1]
            if wants_number and any(ch.isdigit() for t in span for ch in t[0]):
                score += cfg.type_bonus
            if wants_person and all(t[0][0].isupper() for t in span):
                score += cfg.type_bonus
            key = (score, j - i, -i)
            if best is None or key > best[0]:
                best = (key, sent[i][1], sent[j][2])
    return example.context[best[1]:best[2]] if best else ""


def predict(train: list[Example], evaluation: list[Example], cfg: SlidingWindow) -> list[str]:
    idf = Idf([e.context for e in train])
    return [answer(e, idf, cfg) for e in evaluation]
