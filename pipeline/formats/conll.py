"""Reading CoNLL-format NER files: one token per line in whitespace-separated columns, a blank line
between sentences, optional document-separator lines (`-DOCSTART- -X- -X- O` in CoNLL-2003).

Tags are IOB: `O`, or `B-<type>` / `I-<type>` for any entity types. IOB2 (every entity starts
with B-, as CoNLL-2003 here) and IOB1 (B- only between two adjacent entities of one type) both
read; the scorer and the spaCy conversion follow conlleval, where an I- tag after O or after
another type starts an entity. Other schemes (BIOES, BILOU) are an error naming the line.

The same sentences also read from the HF `conll2003` layout (pipeline/apps/hf.py: parquet,
save_to_disk, hub): one row per sentence, `tokens` (words) and `ner_tags` (ClassLabel ids with
their names, or the tag strings); a row that is just the document separator counts a document.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.apps.files import read_text
from pipeline.apps.hf import load_rows
from pipeline.errors import InputError

OUTSIDE = "O"
HF_COLUMNS = ("tokens", "ner_tags")


@dataclass
class Sentence:
    id: str                 # "<file name>:<line>" of its first token (a dataset: "<name>:<row>")
    words: list[str]
    tags: list[str]
    line: int               # 1-based line of the first token; token i is on line + i (a dataset: its row)


@dataclass
class Corpus:
    path: Path | str        # the file, or the dataset's location (pipeline/apps/hf.py)
    sentences: list[Sentence]
    documents: int          # document separators seen (0 for a file without them)
    columns: int            # the column count every token line has (0 for a dataset)
    rows: bool = False      # read from a dataset: a sentence's `line` is its row

    @property
    def name(self) -> str:
        return Path(str(self.path)).name

    def where(self, sentence: Sentence, token: int) -> str:
        """Where the sentence's token is, for an error: file:line, or the dataset's row and token."""
        if self.rows:
            return f"{self.path} row {sentence.line} token {token + 1}"
        return f"{self.path}:{sentence.line + token}"

    @property
    def tokens(self) -> int:
        return sum(len(s.words) for s in self.sentences)

    @property
    def labels(self) -> set[str]:
        return {t for s in self.sentences for t in s.tags}

    def entities(self) -> int:
        """Entity starts, conlleval's way: B-, or I- not continuing the previous tag's type."""
        count = 0
        for s in self.sentences:
            previous = OUTSIDE
            for tag in s.tags:
                if tag.startswith("B-") or (tag.startswith("I-") and previous[2:] != tag[2:]):
                    count += 1
                previous = tag
        return count


def check_tag(tag: str, where: str) -> None:
    if tag != OUTSIDE and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
        raise InputError(f"{where}: tag {tag!r} is not IOB (O, B-<type> or I-<type>)")


def read_corpus(location: str | Path, what: str, *, token_column: int = 0, tag_column: int = -1,
                columns: int | None = None, docstart: str | None = "-DOCSTART-") -> Corpus:
    """A CoNLL column file, or a dataset in the HF conll2003 layout (the column settings are the
    text file's)."""
    ds = load_rows(location, what, HF_COLUMNS)
    if ds is None:
        return read_conll(location, what, token_column=token_column, tag_column=tag_column, columns=columns,
                          docstart=docstart)
    return from_rows(ds, str(location), what, docstart)


def from_rows(ds, location: str, what: str, docstart: str | None) -> Corpus:
    """The sentences of a conll2003-layout dataset: tag ids become their ClassLabel names."""
    feature = getattr(ds.features["ner_tags"], "feature", None)
    names = getattr(feature, "names", None)
    corpus = Corpus(location, [], 0, 0, rows=True)
    for number, row in enumerate(ds, start=1):
        words, tags, where = row["tokens"], row["ner_tags"], f"{location} row {number}: {what}"
        if len(words) != len(tags):
            raise InputError(f"{where}: {len(words)} tokens but {len(tags)} ner_tags")
        if docstart is not None and words[:1] == [docstart]:
            corpus.documents += 1
            continue
        if names is not None:
            if not all(0 <= t < len(names) for t in tags):
                raise InputError(f"{where}: ner_tags id outside the {len(names)} label names")
            tags = [names[t] for t in tags]
        elif not all(isinstance(t, str) for t in tags):
            raise InputError(f"{where}: ner_tags are ids without label names (expected a ClassLabel feature)")
        for tag in tags:
            check_tag(tag, where)
        if words:
            corpus.sentences.append(Sentence(f"{corpus.name}:{number}", list(words), list(tags), number))
    if not corpus.sentences:
        raise InputError(f"{location}: {what}: no sentences")
    return corpus


def read_conll(path: str | Path, what: str, *, token_column: int = 0, tag_column: int = -1,
               columns: int | None = None, docstart: str | None = "-DOCSTART-") -> Corpus:
    """Every sentence of the file. `columns` None: the first token line's count, which every
    other token line must then have; `docstart` None: the file has no separator lines."""
    path = Path(path)
    text = read_text(path, what)
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    start = documents = 0

    def close() -> None:
        if words:
            sentences.append(Sentence(f"{path.name}:{start}", list(words), list(tags), start))
            words.clear()
            tags.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            close()
            continue
        if docstart is not None and fields[0] == docstart:
            close()
            documents += 1
            continue
        where = f"{path}:{number}: {what}"
        if columns is None:
            columns = len(fields)
            for column in (token_column, tag_column):
                if not -columns <= column < columns:
                    raise InputError(f"{where}: column {column} does not exist in a line of {columns} columns")
        if len(fields) != columns:
            raise InputError(f"{where}: expected {columns} columns, got {len(fields)}")
        check_tag(fields[tag_column], where)
        if not words:
            start = number
        words.append(fields[token_column])
        tags.append(fields[tag_column])
    close()
    if not sentences:
        raise InputError(f"{path}: {what}: no sentences (empty, or only separator lines)")
    return Corpus(path, sentences, documents, columns)


def check_labels(train: Corpus, evaluation: Corpus, what: str) -> None:
    """An eval tag the model never saw in training could not be predicted: an error naming the
    first line that has one, rather than a silently lower score."""
    known = train.labels
    for s in evaluation.sentences:
        for i, tag in enumerate(s.tags):
            if tag not in known:
                raise InputError(f"{evaluation.where(s, i)}: {what}: tag {tag!r} does not occur in "
                                 f"the training file {train.name} (its tags: {', '.join(sorted(known))})")
