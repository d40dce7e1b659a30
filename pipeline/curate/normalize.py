"""The normalized content both exact dedup (curate) and the duplicate check (validate) hash.

Lower-cased, whitespace-collapsed, Unicode-NFKC text: the same page re-crawled under another URL,
or re-extracted with different line breaks, maps to the same key. Numbers and punctuation are kept,
so pages that differ only in a version number stay distinct.
"""
from __future__ import annotations

import hashlib
import unicodedata

from datatrove.data import Document
from datatrove.utils.text import TextNormConfig, simplify_text

NORM = TextNormConfig(lowercase=True, norm_whitespace=True, remove_punctuation=False,
                      norm_unicode_diacritics=False, norm_numbers=False)


def normalize(text: str) -> str:
    return simplify_text(unicodedata.normalize("NFKC", text), NORM)


def content_key(doc: Document) -> str:
    """datatrove ExactDedupConfig.content_getter: the text it hashes."""
    return normalize(doc.text)


def content_hash(text: str) -> str:
    return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()
