"""Wikitext -> clean plain text with mwparserfromhell.

Templates, references, tables, galleries, file/image and category links and boilerplate
sections (References, External links, ...) go; section headings stay as a line of text; link
labels, bold/italic and list items stay as their text. Namespace names are language-specific,
so the caller passes the dump's own names for files and categories (from its siteinfo).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import mwparserfromhell
from mwparserfromhell.nodes import ExternalLink, Heading, Tag, Template, Wikilink

# Tags whose content is never running prose. mwparserfromhell already hides math, gallery,
# timeline, ... in strip_code, but keeps the body of <ref> and wiki tables ({| |}), which the
# FineWeb/HF Wikipedia text drops.
DROPPED_TAGS = frozenset({"ref", "references", "table", "gallery", "imagemap", "timeline", "math",
                          "chem", "score", "graph", "mapframe", "templatestyles", "syntaxhighlight"})
# Namespaces of links that are not text, by their canonical (English) names; a dump's local
# names ("Fichier", "Catégorie", ...) are added by the caller from the siteinfo.
CANONICAL_DROPPED_LINK_NAMESPACES = ("File", "Image", "Media", "Category")

_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")
_TEMPLATE_NAME = re.compile(r"\{\{\s*([^{}|\n]+?)\s*(?:\||\}\})")
_STRAY_QUOTES = re.compile(r"'{2,}")
_HEADING = re.compile(r"^(={1,6})\s*(.+?)\s*\1\s*$")


def _norm(name: str) -> str:
    return " ".join(str(name).replace("_", " ").split()).casefold()


def is_disambiguation(wikitext: str, markers: Iterable[str]) -> bool:
    """A page transcluding a disambiguation template: one of `markers`, or a name ending in
    one of them ("Letter disambiguation", "Hospital disambiguation" are en.wikipedia variants).
    Read from the raw text, as the template often sits in a section that cleaning drops."""
    markers = {_norm(m) for m in markers}
    names = {_norm(n) for n in _TEMPLATE_NAME.findall(wikitext)}
    return any(n in markers or any(n.endswith(" " + m) for m in markers) for n in names)


def _prune(code: mwparserfromhell.wikicode.Wikicode, link_prefixes: tuple[str, ...]) -> None:
    """Drop templates, non-prose tags and file/category links, recursing into what is kept.
    Rebuilding node lists is linear; Wikicode.remove searches the tree for every node."""
    kept = []
    for node in code.nodes:
        if isinstance(node, Template):
            continue
        if isinstance(node, Tag):
            if _norm(node.tag) in DROPPED_TAGS:
                continue
            if node.contents:
                _prune(node.contents, link_prefixes)
        elif isinstance(node, Wikilink):
            if _norm(node.title).lstrip(":").startswith(link_prefixes):
                continue
            if node.text:
                _prune(node.text, link_prefixes)
        elif isinstance(node, (ExternalLink, Heading)) and node.title:
            _prune(node.title, link_prefixes)
        kept.append(node)
    code.nodes = kept


def drop_sections(wikitext: str, titles: Iterable[str]) -> str:
    """Drop each section titled like one of `titles`, with its subsections. Done on the raw
    lines: headings are line-based in wikitext, while in the parse tree an unclosed '' before
    them can nest them inside a tag."""
    titles = {_norm(t) for t in titles}
    kept, dropping_level = [], None
    for line in wikitext.splitlines(keepends=True):
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            if dropping_level is not None and level <= dropping_level:
                dropping_level = None
            if dropping_level is None and _norm(heading.group(2)) in titles:
                dropping_level = level
        if dropping_level is None:
            kept.append(line)
    return "".join(kept)


def clean_wikitext(wikitext: str, dropped_link_namespaces: Iterable[str],
                   dropped_sections: Iterable[str]) -> str:
    code = mwparserfromhell.parse(drop_sections(wikitext, dropped_sections))
    _prune(code, tuple(_norm(ns) + ":" for ns in dropped_link_namespaces))
    # an unclosed '' (italic) survives strip_code as literal quotes
    text = _STRAY_QUOTES.sub("", code.strip_code(normalize=True, collapse=True))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
