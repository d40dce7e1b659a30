"""Reading and checking SQuAD-schema question answering files.

Two layouts, plain or compressed (pipeline/apps/files.read_text):
    SQuAD v1.1 JSON   {"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
                      "answers": [{"text", "answer_start"}]}]}]}]}   (SQuAD, XQuAD)
    JSONL             one flat row per question: {"id", "context", "question", "answers":
                      {"text": [...], "answer_start": [...]}} (+ optional "title"), the layout of
                      the HF `squad` dataset; rows with the same title and context form a paragraph
    HF `squad`        those rows as a parquet file, a save_to_disk directory or `hub:` (with
                      LMPIPE_ONLINE=1): pipeline/apps/hf.py

Checks, counted by reason: an answer whose `answer_start` does not point at its text is moved to
the nearest occurrence of the text in the context ("realigned"); one whose text is empty or not in
the context is dropped, and a question left without answers is dropped. A malformed file
(bad JSON, a missing key, a duplicate question id) is an InputError naming the file.
"""
from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.apps.files import read_text
from pipeline.apps.hf import load_rows
from pipeline.errors import InputError

log = logging.getLogger(__name__)

HF_COLUMNS = ("id", "context", "question", "answers")  # and `title`, optional as in JSONL


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]         # gold answer texts, in file order (scoring: max over them)
    starts: list[int]          # their character offsets in the context, checked


@dataclass
class Paragraph:
    title: str
    index: int                 # 0-based position within its article (paragraphs-in-xquad-en.tsv)
    context: str
    questions: list[Question] = field(default_factory=list)


@dataclass
class Example:
    """One question with its paragraph: what the models read."""
    id: str
    title: str
    context: str
    question: str
    answers: list[str]
    starts: list[int]


@dataclass
class Checked:
    paragraphs: list[Paragraph]
    realigned: int = 0                                       # answers moved to their text
    dropped_answers: Counter = field(default_factory=Counter)  # reason -> answers
    dropped_questions: Counter = field(default_factory=Counter)

    @property
    def questions(self) -> int:
        return sum(len(p.questions) for p in self.paragraphs)

    def accounting(self) -> dict:
        return {"paragraphs": len(self.paragraphs), "questions": self.questions,
                "answers_realigned": self.realigned,
                "answers_dropped": dict(self.dropped_answers), "questions_dropped": dict(self.dropped_questions)}


def _key(obj: dict, key: str, types: type | tuple, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise KeyError(f"{where}: missing {key!r}")
    value = obj[key]
    if not isinstance(value, types) or isinstance(value, bool):
        raise KeyError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _raw_squad(doc: dict) -> list[tuple[str, str, list[dict]]]:
    """(title, context, raw qas) per paragraph of a SQuAD JSON document."""
    out = []
    for a, article in enumerate(_key(doc, "data", list, "top level")):
        title = str(article.get("title", "")) if isinstance(article, dict) else ""
        for p, para in enumerate(_key(article, "paragraphs", list, f"article {a}")):
            where = f"article {a} paragraph {p}"
            out.append((title, _key(para, "context", str, where), _key(para, "qas", list, where)))
    return out


def _jsonl_rows(text: str) -> Iterator[tuple[str, dict]]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"line {n}", json.loads(line)
        except json.JSONDecodeError as exc:
            raise KeyError(f"line {n}: not JSON ({exc.msg})") from None


def _raw_rows(rows: Iterable[tuple[str, dict]]) -> list[tuple[str, str, list[dict]]]:
    """The flat rows (where, row) grouped into paragraphs by (title, context), in order of first
    appearance."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for where, row in rows:
        context = _key(row, "context", str, where)
        answers = _key(row, "answers", dict, where)
        texts = _key(answers, "text", list, f"{where} answers")
        starts = _key(answers, "answer_start", list, f"{where} answers")
        if len(texts) != len(starts):
            raise KeyError(f"{where}: {len(texts)} answer texts but {len(starts)} answer_start")
        qa = {"id": row.get("id"), "question": row.get("question"),
              "answers": [{"text": t, "answer_start": s} for t, s in zip(texts, starts)]}
        groups.setdefault((str(row.get("title", "")), context), []).append(qa)
    return [(title, context, qas) for (title, context), qas in groups.items()]


def _check_answer(context: str, text: str, start: int) -> tuple[int | None, str | None]:
    """(checked start, None) or (None, drop reason); a wrong start moves to the nearest occurrence."""
    if not text.strip():
        return None, "empty answer text"
    if context[start:start + len(text)] == text:
        return start, None
    hits, at = [], context.find(text)
    while at != -1:
        hits.append(at)
        at = context.find(text, at + 1)
    if not hits:
        return None, "answer text not in context"
    return min(hits, key=lambda h: (abs(h - start), h)), None


def _raw_file(text: str) -> list[tuple[str, str, list[dict]]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":  # one JSON value per line: JSONL
            raise KeyError(f"not JSON ({exc.msg}, line {exc.lineno})") from None
        doc = None
    # a one-line JSONL file is one JSON object too: SQuAD's has "data"
    return _raw_squad(doc) if isinstance(doc, dict) and "data" in doc else _raw_rows(_jsonl_rows(text))


def load(path: str | Path, what: str) -> Checked:
    """The paragraphs of a SQuAD JSON or JSONL file, or an HF `squad` dataset, checked; one log
    line with the counts."""
    ds = load_rows(path, what, HF_COLUMNS)
    try:
        if ds is None:
            raw = _raw_file(read_text(path, what))
        else:
            raw = _raw_rows((f"row {n}", row) for n, row in enumerate(ds, 1))
        checked = _check(raw)
    except KeyError as exc:
        raise InputError(f"{path}: {what}: {exc.args[0]}") from None
    if not checked.questions:
        raise InputError(f"{path}: {what}: no questions")
    log.info("%s: %s paragraphs, %s questions; %d answers realigned to their text; dropped answers %s, "
             "questions %s", what, f"{len(checked.paragraphs):,}", f"{checked.questions:,}", checked.realigned,
             dict(checked.dropped_answers) or "none", dict(checked.dropped_questions) or "none")
    return checked


def _check(raw: list[tuple[str, str, list[dict]]]) -> Checked:
    checked = Checked(paragraphs=[])
    seen: set[str] = set()
    per_title: Counter = Counter()
    for title, context, qas in raw:
        para = Paragraph(title, per_title[title], context)
        per_title[title] += 1
        for q, qa in enumerate(qas):
            where = f"{title or 'untitled'} paragraph {para.index} question {q}"
            qid = str(_key(qa, "id", (str, int), where))
            if qid in seen:
                raise KeyError(f"{where}: duplicate question id {qid!r}")
            seen.add(qid)
            question = _key(qa, "question", str, where)
            answers, starts = [], []
            for a, ans in enumerate(_key(qa, "answers", list, where)):
                text = _key(ans, "text", str, f"{where} answer {a}")
                start, reason = _check_answer(context, text, _key(ans, "answer_start", int, f"{where} answer {a}"))
                if reason:
                    checked.dropped_answers[reason] += 1
                    continue
                checked.realigned += start != ans["answer_start"]
                answers.append(text)
                starts.append(start)
            if not answers:
                checked.dropped_questions["no answer left"] += 1
                continue
            para.questions.append(Question(qid, question, answers, starts))
        checked.paragraphs.append(para)
    return checked


def read_exclude(path: str | Path, what: str) -> set[tuple[str, int]]:
    """(title, paragraph_index) pairs of a TSV with those columns (paragraphs-in-xquad-en.tsv)."""
    rows = list(csv.DictReader(io.StringIO(read_text(path, what)), delimiter="\t"))
    if not rows or not {"title", "paragraph_index"} <= set(rows[0]):
        raise InputError(f"{path}: {what}: needs a header with 'title' and 'paragraph_index' and at least one row")
    try:
        return {(r["title"], int(r["paragraph_index"])) for r in rows}
    except (TypeError, ValueError):
        raise InputError(f"{path}: {what}: paragraph_index must be an integer") from None


def split_sides(train: Checked, evaluation: Checked, exclude: set[tuple[str, int]],
                train_path: str, eval_path: str) -> tuple[list[Paragraph], dict]:
    """The training paragraphs without the excluded ones (those of the evaluation file). Every
    listed paragraph must exist, and no context may remain on both sides: InputError."""
    listed = {(p.title, p.index) for p in train.paragraphs}
    absent = sorted(exclude - listed)
    if absent:
        raise InputError(f"{train_path}: qa.exclude lists {len(absent)} paragraphs it does not have "
                         f"(first: {absent[0][0]} paragraph {absent[0][1]})")
    kept = [p for p in train.paragraphs if (p.title, p.index) not in exclude]
    eval_contexts = {p.context for p in evaluation.paragraphs}
    both = [p for p in kept if p.context in eval_contexts]
    if both:
        raise InputError(f"{train_path}: {len(both)} training contexts also in {eval_path} "
                         f"(first: {both[0].title} paragraph {both[0].index}); list them in qa.exclude")
    return kept, {"paragraphs_excluded": len(train.paragraphs) - len(kept),
                  "questions_excluded": sum(len(p.questions) for p in train.paragraphs) - sum(
                      len(p.questions) for p in kept)}


def examples(paragraphs: list[Paragraph]) -> list[Example]:
    return [Example(q.id, p.title, p.context, q.question, q.answers, q.starts)
            for p in paragraphs for q in p.questions]
