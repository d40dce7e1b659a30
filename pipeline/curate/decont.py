"""Decontamination index from the evaluation sets, for datatrove's NGramsDecontFilter.

datatrove's NGramsDecontIndexer takes its tasks from lighteval (and the hub); ours reads GLUE's
dev/test files in their original TSV layout and the applications' evaluation sets (CoNLL-2003
test, XQuAD-en, DialogSum test, Multi30K test: paths.<app>_eval) with the applications' own
readers, and writes the same `<name>.index.hashes` files, hashing n-grams exactly as the filter
does (simplified text, word tokenizer, HashConfig). An evaluation text shorter than n words has
no n-gram and cannot be matched: the indexer counts those (`short_texts`).
"""
from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path

import numpy as np
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.decont import NGramsDecontConfig
from datatrove.utils.hashing import create_hash_func
from datatrove.utils.text import ngrams, simplify_text
from datatrove.utils.word_tokenizers import load_word_tokenizer

from pipeline.errors import InputError

log = logging.getLogger(__name__)

# Text columns across GLUE's layouts (MRPC uses "#1 String"; QNLI/QQP questions).
TEXT_COLUMNS = {"sentence", "sentence1", "sentence2", "#1 String", "#2 String",
                "question", "question1", "question2"}
COLA_HEADERLESS_TEXT = 3  # CoLA train/dev: source, label, original label, sentence


def glue_files(glue_dir: Path, tasks: list[str], splits: list[str], missing_ok: bool) -> list[Path]:
    """dev*/test*.tsv of each task (MNLI has dev_matched etc.); the diagnostic set is a test set."""
    if not glue_dir.is_dir():
        raise InputError(f"{glue_dir}: GLUE directory not found")
    files = []
    for task in tasks:
        task_dir = glue_dir / task
        if not task_dir.is_dir():
            if missing_ok:
                log.warning("decontaminate: %s not in %s; skipped", task, glue_dir)
                continue
            raise InputError(f"{task_dir}: GLUE task directory not found (curate.decontaminate.tasks)")
        patterns = ["diagnostic*.tsv"] if task == "diagnostic" and "test" in splits else []
        patterns += [f"{split}*.tsv" for split in splits]
        files += sorted({p for pattern in patterns for p in task_dir.glob(pattern)})
    return files


def read_texts(path: Path) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        return []
    header = [name.strip() for name in rows[0]]
    columns = [i for i, name in enumerate(header) if name in TEXT_COLUMNS]
    body = rows[1:]
    if not columns and path.parent.name == "CoLA":
        columns, body = [COLA_HEADERLESS_TEXT], rows
    return [row[i] for row in body for i in columns if i < len(row) and row[i].strip()]


def application_texts(app: str, path: Path) -> list[str]:
    """The English text of an application's evaluation set, read by that stage's own loader:
    sentences (NER), contexts and questions (QA), dialogues and summaries, source sentences."""
    what = f"curate.decontaminate: paths.{app}_eval"
    if app == "ner":
        from pipeline.formats.conll import read_conll

        return [" ".join(s.words) for s in read_conll(path, what).sentences]
    if app == "qa":
        from pipeline.formats.squad import load

        return [t for p in load(path, what).paragraphs for t in (p.context, *(q.question for q in p.questions))]
    if app == "summarization":
        from pipeline.formats.dialogsum import load as load_dialogues

        return [t for d in load_dialogues(path, what).rows for t in (d.dialogue, *d.references)]
    if app == "translation":  # the English side: the corpus is English
        from pipeline.apps.files import read_lines

        return [line for line in read_lines(path, what) if line.strip()]
    raise ValueError(f"decontaminate.applications: unknown application {app!r}")


def eval_texts(kind: str, path: Path) -> list[str]:
    return read_texts(path) if kind == "glue" else application_texts(kind, path)


class EvalSetDecontIndexer(PipelineStep):
    """Writes one `<kind>_<file>.index.hashes` per evaluation file (kind: glue or an application);
    files are split across tasks."""

    type = "🦠 - DECONT"
    name = "💥 eval-set n-grams index"

    def __init__(self, files: list[tuple[str, str]], output_folder: str, config: NGramsDecontConfig, language: str):
        super().__init__()
        self.files = files
        self.output_folder = Path(output_folder)
        self.config = config
        self.language = language

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        tokenizer = load_word_tokenizer(self.language)
        hash_func = create_hash_func(self.config.hash_config)
        self.output_folder.mkdir(parents=True, exist_ok=True)
        for kind, file in self.files[rank::world_size]:
            path = Path(file)
            hashes = set()
            with self.track_time():
                for text in eval_texts(kind, path):
                    self.stat_update("texts")
                    tokens = tokenizer.word_tokenize(simplify_text(text, self.config.norm_config))
                    if len(tokens) < self.config.n_grams:
                        self.stat_update("short_texts")
                    hashes.update(map(hash_func, map(" ".join, ngrams(tokens, self.config.n_grams))))
            self.stat_update("ngrams", value=len(hashes))
            array = np.array(sorted(hashes), dtype=self.config.hash_config.np_descr)
            name = f"{path.parent.name}_{path.stem}" if kind == "glue" else f"{kind}_{path.name.split('.')[0]}"
            array.tofile(self.output_folder / f"{name}.index.hashes")
        return iter(())
