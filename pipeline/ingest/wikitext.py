"""Wikitext -> clean plain text with mwparserfromhell.

Templates, references, tables, galleries, file/image and category links and boilerplate
sections (References, External links, ...) go; section headings stay as a line of text; link
labels, bold/italic and list items stay as their text. Namespace names are language-specific,
so the caller passes the dump's own names and aliases for files and categories.

mwparserfromhell parses with skip_style_tags (quotes as plain text). Otherwise its tokenizer
reads '' and ''' as tags that must close, and an unbalanced one (''Title'''s, a stray '' in a
citation) makes it backtrack and leave the enclosing <ref>, table or template as raw text: 12
of the 98 articles of the enwiki excerpt kept <ref> or {| that way, one a 100-line table. The
quote marks are then dropped as MediaWiki's own parser reads them (_drop_quote_marks).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import mwparserfromhell
from mwparserfromhell.nodes import ExternalLink, Heading, Tag, Template, Text, Wikilink

# Tags whose content is never running prose. mwparserfromhell already hides math, gallery,
# timeline, ... in strip_code, but keeps the body of <ref> and wiki tables ({| |}), which the
# FineWeb/HF Wikipedia text drops.
DROPPED_TAGS = frozenset({"ref", "references", "table", "gallery", "imagemap", "timeline", "math",
                          "chem", "score", "graph", "mapframe", "templatestyles", "syntaxhighlight"})
# Namespaces of links that are not text, by the names every wiki accepts (MediaWiki's canonical
# ones and its default alias Image); a dump's local names ("Fichier", "Kategoreja", ...) and
# aliases are added by the caller (mediawiki.SiteInfo.names).
CANONICAL_DROPPED_LINK_NAMESPACES = ("File", "Image", "Media", "Category")
# Marks where a node was dropped, and where a link or tag kept starts and ends, until the quote
# marks are read: MediaWiki reads them in the wikitext, where a template or the brackets of a
# link keep the quotes on its two sides apart (''{{lang|ar|...}}'', ''[[Republic|''Republic'']]''
# are italics, not runs of four quotes). XML 1.0 has no U+0000, so no dump's text holds one.
BOUNDARY = "\x00"

_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")
_TEMPLATE_NAME = re.compile(r"\{\{\s*([^{}|\n]+?)\s*(?:\||\}\})")
_QUOTE_RUNS = re.compile(r"('{2,})")
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


def _namespace(title) -> str:
    """The namespace prefix of a link target as MediaWiki matches it: any case, '_' or spaces,
    spaces around the colon ([[Category : X]]); a leading colon ([[:Category:X]]) skipped."""
    prefix, colon, _ = str(title).strip().lstrip(":").partition(":")
    return _norm(prefix) if colon else ""


def _drop_quote_marks(line: str) -> str:
    """A line without its bold/italic marks, keeping the apostrophes MediaWiki reads in them
    (Parser::doQuotes): the first of four, all but five of a longer run, and, when the line
    has an odd number of both italics and bolds, one of a ''' (''Iliad'''s -> Iliad's),
    preferably after a one-letter word, else after a longer word, else after a space."""
    parts = _QUOTE_RUNS.split(line)
    if len(parts) == 1:
        return line
    texts, runs = parts[0::2], [len(run) for run in parts[1::2]]
    literal = [1 if n == 4 else max(n - 5, 0) for n in runs]
    marks = [3 if n == 4 else min(n, 5) for n in runs]
    if sum(m in (2, 5) for m in marks) % 2 and sum(m in (3, 5) for m in marks) % 2:
        def preference(i: int) -> tuple[int, int]:
            before = texts[i] + "'" * literal[i]
            return (2 if before[-1:] == " " else 0 if before[-2:-1] == " " else 1), i
        literal[min((i for i, m in enumerate(marks) if m == 3), key=preference)] += 1
    return "".join(text + "'" * n for text, n in zip(texts, literal)) + texts[-1]


def _dropped(node, dropped_namespaces: frozenset[str]) -> bool:
    return (isinstance(node, Template) or isinstance(node, Tag) and _norm(node.tag) in DROPPED_TAGS
            or isinstance(node, Wikilink) and _namespace(node.title) in dropped_namespaces)


def _prune(code: mwparserfromhell.wikicode.Wikicode, dropped_namespaces: frozenset[str]) -> None:
    """Replace templates, non-prose tags and file/category links by a BOUNDARY, put one on
    either side of the links and tags kept, and recurse into these. Rebuilding node lists is
    linear; Wikicode.remove searches the tree for every node."""
    kept = []
    for node in code.nodes:
        if _dropped(node, dropped_namespaces):
            kept.append(Text(BOUNDARY))
            continue
        if isinstance(node, Tag) and node.contents:
            _prune(node.contents, dropped_namespaces)
        elif isinstance(node, Wikilink) and node.text:
            _prune(node.text, dropped_namespaces)
        elif isinstance(node, (ExternalLink, Heading)) and node.title:
            _prune(node.title, dropped_namespaces)
        if isinstance(node, (Tag, Wikilink, ExternalLink)):
            kept.extend((Text(BOUNDARY), node, Text(BOUNDARY)))
        else:
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
    code = mwparserfromhell.parse(drop_sections(wikitext, dropped_sections), skip_style_tags=True)
    _prune(code, frozenset(_norm(ns) for ns in dropped_link_namespaces))
    text = code.strip_code(normalize=True, collapse=True)
    lines = (_drop_quote_marks(line).replace(BOUNDARY, "") for line in text.splitlines())
    lines = (_SPACES.sub(" ", line).strip() for line in lines)
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
