"""The expectation suites for curated documents, in code.

The documents are validated in batches (pipeline/validate/gx_run.py), so the suite comes in two
parts: `rows_suite` holds the expectations that a batch can settle on its own rows, and
`corpus_suite` those that need every document at once (the row count, and uniqueness across
batches), run on one frame of just the `CORPUS_COLUMNS`, a small constant per document.
"""
from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from pipeline.schema import METADATA_COLUMNS

COLUMNS = ["id", "text", *METADATA_COLUMNS]  # the docs contract (pipeline/schema.py)
CORPUS_COLUMNS = ["id", "content_hash"]
SUITE = "curated_docs"  # the merged result's name; the two parts are <SUITE>_rows and _corpus
# http(s), a host, then anything without whitespace
URL_REGEX = r"^https?://[^\s/?#]+[^\s]*$"


def rows_suite(name: str, languages: list[str], min_chars: int, max_chars: int) -> gx.ExpectationSuite:
    expectations = [
        # schema: the docs contract's columns, all strings (nulls allowed where the contract says)
        gxe.ExpectTableColumnsToMatchSet(column_set=COLUMNS + ["content_hash"], exact_match=True),
        *[gxe.ExpectColumnValuesToBeOfType(column=c, type_="str") for c in COLUMNS],
        # ids: present (unique: corpus_suite)
        gxe.ExpectColumnValuesToNotBeNull(column="id"),
        # text: present, not blank, within the length bounds curate applied
        gxe.ExpectColumnValuesToNotBeNull(column="text"),
        gxe.ExpectColumnValuesToNotMatchRegex(column="text", regex=r"^\s*$"),
        gxe.ExpectColumnValueLengthsToBeBetween(column="text", min_value=min_chars, max_value=max_chars),
        gxe.ExpectColumnValuesToNotBeNull(column="source"),
        # language: identified, and one of the targets
        gxe.ExpectColumnValuesToNotBeNull(column="lang"),
        gxe.ExpectColumnValuesToBeInSet(column="lang", value_set=languages),
        # URLs where present (Wikipedia dump pages may have none)
        gxe.ExpectColumnValuesToMatchRegex(column="url", regex=URL_REGEX),
    ]
    return gx.ExpectationSuite(name=name, expectations=expectations)


def corpus_suite(name: str, min_rows: int) -> gx.ExpectationSuite:
    expectations = [
        gxe.ExpectTableRowCountToBeBetween(min_value=min_rows),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        # no two documents with the same normalized content (what exact dedup promises)
        gxe.ExpectColumnValuesToBeUnique(column="content_hash"),
    ]
    return gx.ExpectationSuite(name=name, expectations=expectations)
