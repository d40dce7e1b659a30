"""Readers of the file formats that more than one stage opens, outside every stage package.

Importing `pipeline.<stage>.x` runs that stage's `__init__`, i.e. its whole code, which would make
every importer's DVC stage depend on it. These readers are small and import no stage, so curate's
decontamination reads the applications' evaluation sets, and the applications read their data,
through them without depending on each other's code.

    inputs.py      opening an input file in any compression (gz, bz2, xz, zst, zip), with
                   one-line errors naming it; ingest and the applications share it
    conll.py       CoNLL-2003 column files (NER)
    squad.py       SQuAD v1.1-schema JSON (extractive QA), its normalisation and metric
    dialogsum.py   DialogSum JSONL (summarization)
    multi30k.py    Multi30K parallel text (translation)
"""
