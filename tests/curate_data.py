"""Synthetic documents and GLUE files for the curate/validate tests.

Random sentences over a small English vocabulary pass FineWeb's heuristics (enough words, stop
words, terminal punctuation, no repetition) and differ enough that no two are near-duplicates.
"""
from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schema import METADATA_COLUMNS

WORDS = ("the of and to in that with for as on by from at this which have been were their about "
         "river city council library garden station museum teacher student history science music "
         "winter summer morning evening village harbour bridge market painting theatre novel "
         "engineer doctor farmer scientist writer built opened studied described visited moved "
         "large small ancient modern quiet busy famous local northern southern early late "
         "several many most some other new old first second public private national regional").split()

FRENCH = ("Le conseil municipal a décidé de rénover la bibliothèque de la ville avant la fin de "
          "l'année. Les habitants du quartier ont participé à plusieurs réunions publiques. "
          "La rivière traverse le centre historique et les ponts anciens attirent de nombreux "
          "visiteurs chaque été. Le musée régional présente une collection de peintures du "
          "dix-neuvième siècle. Les écoles du village organisent des ateliers de musique et de "
          "théâtre pour les enfants. ") * 2

GLUE_SENTENCE = ("the committee finally agreed that the new bridge across the northern harbour "
                 "would open to public traffic next spring")


def english(seed: int, sentences: int = 9) -> str:
    rng = random.Random(seed)
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(10, 16))]
        out.append(" ".join(words).capitalize() + ".")
    # three paragraphs of three sentences: realistic line structure for the line-based rules
    return "\n".join(" ".join(out[i:i + 3]) for i in range(0, len(out), 3))


def write_docs(folder: Path, rows: list[dict], shard: str = "part-0.parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["id", "text", *METADATA_COLUMNS]  # the docs contract
    table = pa.table({c: pa.array([r.get(c) for r in rows], type=pa.string()) for c in columns})
    pq.write_table(table, folder / shard)
    return folder / shard


# One sentence of each application's evaluation set (>= 13 words: decontamination's n-gram).
APP_SENTENCES = {
    "ner": "Reuters reported on Tuesday that the Frankfurt exchange closed early after a long power cut downtown",
    "qa": "The cathedral was rebuilt in the fourteenth century after a fire destroyed most of its wooden roof",
    "summarization": "Person one asks the shop assistant whether the blue winter coat is available in a larger size",
    "translation": "A young girl in a red dress is jumping over a small puddle on a rainy street",
}


def write_app_evals(root: Path) -> None:
    """The four evaluation sets at params.yaml's paths.<app>_eval, each in its own format."""
    import gzip
    import json

    ner = root / "ner" / "conll2003" / "test.txt"
    ner.parent.mkdir(parents=True, exist_ok=True)
    ner.write_text("-DOCSTART- -X- -X- O\n\n" + "".join(
        f"{w} NN O {'B-ORG' if w == 'Reuters' else 'O'}\n" for w in APP_SENTENCES["ner"].split()) + "\n")
    qa = root / "qa" / "xquad" / "xquad.en.json"
    qa.parent.mkdir(parents=True, exist_ok=True)
    context = APP_SENTENCES["qa"] + "."
    qa.write_text(json.dumps({"version": "1.1", "data": [{"title": "Cathedral", "paragraphs": [{
        "context": context, "qas": [{"id": "q1", "question": "When was the cathedral rebuilt?",
                                     "answers": [{"text": "the fourteenth century",
                                                  "answer_start": context.index("the fourteenth")}]}]}]}]}))
    summ = root / "summarization" / "dialogsum" / "dialogsum.test.jsonl"
    summ.parent.mkdir(parents=True, exist_ok=True)
    summ.write_text(json.dumps({"fname": "test_1", "dialogue": "#Person1#: Hello.\n#Person2#: Hi.",
                                "summary1": APP_SENTENCES["summarization"] + ".", "summary2": "A", "summary3": "B"}) + "\n")
    mt = root / "translation" / "multi30k" / "task1" / "raw" / "test_2016_flickr.en.gz"
    mt.parent.mkdir(parents=True, exist_ok=True)
    mt.write_bytes(gzip.compress((APP_SENTENCES["translation"] + ".\n").encode()))


def write_glue(root: Path) -> Path:
    """A GLUE directory: CoLA dev without header (as the original), RTE test with one."""
    glue = root / "glue"
    (glue / "CoLA").mkdir(parents=True)
    (glue / "CoLA" / "dev.tsv").write_text(f"gj04\t1\t\t{GLUE_SENTENCE.capitalize()}.\nab01\t0\t*\tShort one.\n")
    (glue / "RTE").mkdir()
    (glue / "RTE" / "test.tsv").write_text("index\tsentence1\tsentence2\n0\tA cat sat.\tA cat is sitting.\n")
    return glue


def dialogue(seed: int, lines: int = 8) -> str:
    """Dialogue as in fiction: every utterance quoted and attributed. Its quotes and commas are
    word tokens for Gopher's alpha-words rule: about two thirds of its words have a letter, under
    FineWeb's 80% but over the 60% of a books recipe."""
    rng = random.Random(seed)
    names = ("Anna", "Pierre", "Natasha", "Levin", "Emma", "Darcy", "Jane", "Heathcliff", "Pip", "Estella")
    verbs = ("said", "asked", "replied", "answered", "cried", "whispered", "added")
    out = []
    for _ in range(lines):
        said = [f'"{" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 8))).capitalize()},"'
                f" {rng.choice(verbs)} {rng.choice(names)}." for _ in range(2)]
        out.append(" ".join(said))
    return "\n".join(out)
