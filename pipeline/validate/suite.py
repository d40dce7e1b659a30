"""The expectation suite for curated documents, in code."""
from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from pipeline.ingest.schema import METADATA_COLUMNS

COLUMNS = ["id", "text", *METADATA_COLUMNS]  # the docs contract (pipeline/ingest/schema.py)
# http(s), a host, then anything without whitespace
URL_REGEX = r"^https?://[^\s/?#]+[^\s]*$"


def curated_docs_suite(name: str, languages: list[str], min_chars: int, max_chars: int,
                       min_rows: int) -> gx.ExpectationSuite:
    expectations = [
        # schema: the docs contract's columns, all strings (nulls allowed where the contract says)
        gxe.ExpectTableColumnsToMatchSet(column_set=COLUMNS + ["content_hash"], exact_match=True),
        *[gxe.ExpectColumnValuesToBeOfType(column=c, type_="str") for c in COLUMNS],
        gxe.ExpectTableRowCountToBeBetween(min_value=min_rows),
        # ids: present and unique
        gxe.ExpectColumnValuesToNotBeNull(column="id"),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
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
        # no two documents with the same normalized content (what exact dedup promises)
        gxe.ExpectColumnValuesToBeUnique(column="content_hash"),
    ]
    return gx.ExpectationSuite(name=name, expectations=expectations)
