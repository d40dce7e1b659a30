"""Corpus bias: who the text talks about, and in what tone, before and after curation.

Per source and overall: counts of gendered words (bias_terms.yaml), frequencies of identity terms
per million words, the mean VADER sentiment of the sentences an identity term occurs in, the share
of documents a bad-words list hits, and the language and domain mix. `curation_bias` computes it
for the ingested documents and for the ones curation kept, so the two can be set side by side.

One pass over the text: documents are split into sentences, sentences into lower-cased words
(runs of letters and digits), counted with a Counter. The sentence split is deliberately simple:
a sentence ends at . ! or ? followed by white space, or at a line break; "Mr. Smith" splits in two,
which only shortens the context a term's sentiment is read from.
"""
from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import yaml
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from pipeline.config import resolve_path
from pipeline.errors import InputError

TERMS_PATH = Path(__file__).with_name("bias_terms.yaml")
WORD = re.compile(r"[^\W_]+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
DOC_COLUMNS = ("text", "source", "lang", "url")
# Sentences whose sentiment is read per term and scope: a uniform sample (reservoir) of that many.
# VADER takes ~0.05 ms a short sentence; 100 keeps the standard error of a mean compound near 0.05.
MAX_SENTENCES_PER_TERM = 100
TOP_DOMAINS = 20


def load_terms(path: str | Path = TERMS_PATH) -> dict:
    """bias_terms.yaml: {"gendered_pairs": [[male, female], ...], "identity_terms": {category: [term]}}."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def load_badwords(path: str | Path) -> set[str]:
    """A bad-words list (one word or phrase a line, as LDNOOBW's), lower-cased as the text it is
    matched against."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: bad-words list not found")
    return {line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def badwords_pattern(badwords: set[str]) -> re.Pattern:
    """datatrove's C4BadWordsFilter test (a listed word or phrase between non-word characters or
    the ends of the text), with the alternatives folded into a trie: the plain alternation of 377
    words took 6.3 s of CPU on 35 M characters, the trie 1.3 s, and both match the same texts."""
    trie: dict = {}
    for word in badwords:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def render(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and not ends else "(?:" + "|".join(branches) + ")"
        return body + "?" if ends else body

    return re.compile(r"(?:\W|^)(?:{})(?:\W|$)".format(render(trie)))


class TermMatcher:
    """Finds identity terms (one or more words, the last with an optional plural -s) in a
    sentence's words."""

    def __init__(self, identity_terms: dict[str, list[str]]):
        self.single: dict[str, str] = {}                   # word form -> term
        self.multi: dict[str, list[tuple[tuple, str]]] = defaultdict(list)  # first word -> forms
        for term in (term for terms in identity_terms.values() for term in terms):
            words = tuple(term.split())
            for form in (words, words[:-1] + (words[-1] + "s",)):
                if len(form) == 1:
                    self.single[form[0]] = term
                else:
                    self.multi[form[0]].append((form, term))

    def find(self, words: list[str]) -> Counter:
        """term -> occurrences in `words`."""
        found: Counter = Counter()
        present = set(words)
        # sorted: a set's order follows the per-process string hash (PYTHONHASHSEED), and the
        # order of `found` is the order sentences reach the seeded reservoirs
        for form in sorted(self.single.keys() & present):
            found[self.single[form]] += words.count(form)
        for first in sorted(self.multi.keys() & present):
            for form, term in self.multi[first]:
                n = len(form)
                hits = sum(1 for i, w in enumerate(words) if w == first and tuple(words[i:i + n]) == form)
                if hits:  # only terms that occur: corpus_bias samples a sentence for each key
                    found[term] += hits
        return found


@dataclass
class Reservoir:
    """A uniform sample of at most `cap` items from a stream of `seen` (Vitter's algorithm R)."""
    cap: int
    items: list = field(default_factory=list)
    seen: int = 0

    def offer(self, item, rng: random.Random) -> None:
        self.seen += 1
        if len(self.items) < self.cap:
            self.items.append(item)
        else:
            j = rng.randrange(self.seen)
            if j < self.cap:
                self.items[j] = item


@dataclass
class Tally:
    """What one scope (a source, or all of them) has counted."""
    docs: int = 0
    badword_docs: int = 0
    words: Counter = field(default_factory=Counter)      # every word, so the gendered ones and the total
    terms: Counter = field(default_factory=Counter)      # identity term -> occurrences
    sentences: dict = field(default_factory=dict)        # identity term -> Reservoir of sentences
    langs: Counter = field(default_factory=Counter)
    domains: Counter = field(default_factory=Counter)


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text) if s]


def domain(doc: dict) -> str:
    """The host of the document's URL without "www.", or its source where it has no URL."""
    host = urlsplit(doc["url"]).hostname if doc.get("url") else None
    return host.removeprefix("www.") if host else doc["source"]


def corpus_bias(docs: Iterable[dict], terms: dict, badwords: set[str],
                max_sentences_per_term: int = MAX_SENTENCES_PER_TERM, seed: int = 0) -> dict:
    """The bias report of `docs` (dicts with text and source; lang, url optional), terms as
    load_terms returns them: {"overall": scope, "by_source": {source: scope}}, each scope as
    `summarize` describes. Sentences are sampled with `seed`, so a rerun gives the same numbers."""
    matcher = TermMatcher(terms["identity_terms"])
    badword = badwords_pattern(badwords) if badwords else None
    rng = random.Random(seed)
    overall, by_source = Tally(), defaultdict(Tally)
    for doc in docs:
        tally = by_source[doc["source"]]
        for t in (tally, overall):
            t.docs += 1
            t.langs[doc.get("lang") or "unknown"] += 1
            t.domains[domain(doc)] += 1
        if badword is not None and badword.search(doc["text"].lower()):
            tally.badword_docs += 1
            overall.badword_docs += 1
        for sentence in sentences(doc["text"]):
            words = WORD.findall(sentence.lower())
            tally.words.update(words)
            found = matcher.find(words)
            tally.terms.update(found)
            for term in found:
                for t in (tally, overall):
                    t.sentences.setdefault(term, Reservoir(max_sentences_per_term)).offer(sentence, rng)
    for tally in by_source.values():
        overall.words.update(tally.words)
        overall.terms.update(tally.terms)
    sentiment = Sentiment()
    return {"overall": summarize(overall, terms, sentiment),
            "by_source": {s: summarize(t, terms, sentiment) for s, t in sorted(by_source.items())}}


class Sentiment:
    """VADER's compound score (-1 most negative .. +1 most positive), each sentence scored once."""

    def __init__(self):
        self.analyzer = SentimentIntensityAnalyzer()
        self.cache: dict[str, float] = {}

    def compound(self, sentence: str) -> float:
        if sentence not in self.cache:
            self.cache[sentence] = self.analyzer.polarity_scores(sentence)["compound"]
        return self.cache[sentence]

    def mean(self, reservoir: Reservoir | None) -> dict:
        """{"sentences": how many contain the term, "n": how many were scored, "mean": their mean}."""
        if reservoir is None:
            return {"sentences": 0, "n": 0, "mean": None}
        scores = [self.compound(s) for s in reservoir.items]
        return {"sentences": reservoir.seen, "n": len(scores), "mean": round(sum(scores) / len(scores), 4)}


def per_million(count: int, words: int) -> float:
    return round(count * 1e6 / words, 2) if words else 0.0


def summarize(tally: Tally, terms: dict, sentiment: Sentiment) -> dict:
    """One scope's report:
        docs, words             documents, and words as WORD counts them
        gender                  male / female: occurrences of the distinct words on each side;
                                male_to_female: their ratio (None without female words);
                                pairs: {"he/she": {"male": n, "female": n}, ...}
        identity                {category: {count, per_million_words, terms: {term: {count,
                                per_million_words, sentiment: {sentences, n, mean}}}}}
        badwords                docs_hit, doc_rate: documents the list hits, and their share
        lang                    {language: documents} ("unknown" where the document has none)
        domains                 distinct hosts; top: the TOP_DOMAINS with most documents; other
    """
    words = tally.words
    total = sum(words.values())
    pairs = terms["gendered_pairs"]
    male = sum(words[w] for w in {m for m, _ in pairs})
    female = sum(words[w] for w in {f for _, f in pairs})
    identity = {}
    for category, members in terms["identity_terms"].items():
        rows = {term: {"count": tally.terms[term], "per_million_words": per_million(tally.terms[term], total),
                       "sentiment": sentiment.mean(tally.sentences.get(term))} for term in members}
        count = sum(r["count"] for r in rows.values())
        identity[category] = {"count": count, "per_million_words": per_million(count, total), "terms": rows}
    top = dict(tally.domains.most_common(TOP_DOMAINS))
    return {
        "docs": tally.docs,
        "words": total,
        "gender": {"male": male, "female": female,
                   "male_to_female": round(male / female, 3) if female else None,
                   "pairs": {f"{m}/{f}": {"male": words[m], "female": words[f]} for m, f in pairs}},
        "identity": identity,
        "badwords": {"docs_hit": tally.badword_docs,
                     "doc_rate": round(tally.badword_docs / tally.docs, 4) if tally.docs else 0.0},
        "lang": dict(tally.langs.most_common()),
        "domains": {"distinct": len(tally.domains), "top": top,
                    "other": sum(tally.domains.values()) - sum(top.values())},
    }


def read_docs(directory: str | Path) -> Iterator[dict]:
    """The documents of a stage's parquet output (ingest's data/docs, curate's data/curated/docs),
    only the columns corpus_bias reads."""
    files = sorted(resolve_path(directory).glob("*.parquet"))
    if not files:
        raise InputError(f"{resolve_path(directory)}: no parquet files")
    for file in files:
        parquet = pq.ParquetFile(file)
        columns = [c for c in DOC_COLUMNS if c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(columns=columns):
            yield from batch.to_pylist()


def curation_bias(badwords: str | Path, raw: str | Path = "data/docs", kept: str | Path = "data/curated/docs",
                  terms: str | Path = TERMS_PATH, max_sentences_per_term: int = MAX_SENTENCES_PER_TERM) -> dict:
    """{"raw": the ingested documents' report, "kept": the curated ones'}: the before and after of
    curation. `badwords` is a list file (LDNOOBW's `en` under data_root: badwords/ldnoobw/en)."""
    term_lists, words = load_terms(terms), load_badwords(badwords)
    return {name: corpus_bias(read_docs(directory), term_lists, words, max_sentences_per_term)
            for name, directory in (("raw", raw), ("kept", kept))}


def headline(report: dict) -> dict:
    """The numbers of curation_bias's result that the report's headline and cards show:
    {"raw"|"kept": {docs, words, male_to_female, badword_doc_rate, identity_per_million}}."""
    def scope(s: dict) -> dict:
        return {"docs": s["docs"], "words": s["words"], "male_to_female": s["gender"]["male_to_female"],
                "badword_doc_rate": s["badwords"]["doc_rate"],
                "identity_per_million": {c: v["per_million_words"] for c, v in s["identity"].items()}}
    return {name: scope(r["overall"]) for name, r in report.items()}
