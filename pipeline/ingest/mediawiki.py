"""Streaming a MediaWiki XML export (pages-articles dumps, any schema version, any language).

lxml's pull parser is fed the decompressed bytes chunk by chunk, so memory stays flat on a
multi-GB dump and the byte offset of a cut or corrupt spot is known. The parser reads the
encoding from the XML declaration / BOM, so UTF-16 dumps need nothing special.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from pipeline.ingest.inputs import STREAM_ERRORS, iter_decompressed

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass
class SiteInfo:
    lang: str | None = None
    base_url: str | None = None  # https://en.wikipedia.org/wiki/Main_Page
    namespaces: dict[int, str] = field(default_factory=dict)

    def page_url(self, title: str) -> str | None:
        if not self.base_url:
            return None
        root = self.base_url.rsplit("/", 1)[0]
        # the characters MediaWiki's wfUrlencode leaves as they are
        return f"{root}/{urllib.parse.quote(title.replace(' ', '_'), safe=';@$!*(),/~:')}"


@dataclass
class Page:
    id: str
    title: str
    ns: int
    redirect: bool
    model: str | None
    timestamp: str | None
    text: str


@dataclass
class Broken:
    """The dump stops being readable here; pages before it were yielded."""
    offset: int  # uncompressed bytes read when the error surfaced
    in_page: bool  # a page had started and is lost
    message: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(elem, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return child.text
    return None


def _siteinfo(elem, lang: str | None) -> SiteInfo:
    info = SiteInfo(lang=lang, base_url=_child_text(elem, "base"))
    dbname = _child_text(elem, "dbname") or ""
    for child in elem:
        if _local(child.tag) == "namespaces":
            info.namespaces = {int(ns.get("key")): ns.text or "" for ns in child}
    if not info.lang and dbname.endswith("wiki"):  # enwiki, frwiki, ...
        info.lang = dbname[: -len("wiki")]
    if not info.lang and info.base_url:  # https://en.wikipedia.org/...
        info.lang = urllib.parse.urlparse(info.base_url).hostname.split(".")[0]
    return info


def _page(elem) -> Page:
    fields, revision = {}, None
    for child in elem:
        name = _local(child.tag)
        if name == "revision":
            revision = child
        else:
            fields[name] = child
    rev = {_local(c.tag): c.text for c in revision} if revision is not None else {}
    return Page(id=fields["id"].text, title=fields["title"].text or "", ns=int(fields["ns"].text),
                redirect="redirect" in fields, model=rev.get("model"), timestamp=rev.get("timestamp"),
                text=rev.get("text") or "")


def iter_dump(path: str | Path) -> Iterator[SiteInfo | Page | Broken]:
    """The SiteInfo first, then each Page; a Broken last if the dump is cut short or corrupt."""
    parser = etree.XMLPullParser(events=("start", "end"), huge_tree=True, resolve_entities=False,
                                 no_network=True)
    offset, depth, in_page, lang = 0, 0, False, None
    try:
        for chunk in iter_decompressed(path):
            parser.feed(chunk)
            offset += len(chunk)
            for event, elem in parser.read_events():
                name = _local(elem.tag)
                if event == "start":
                    depth += 1
                    lang = elem.get(XML_LANG) if depth == 1 else lang
                    in_page = in_page or (depth == 2 and name == "page")
                    continue
                depth -= 1
                if depth != 1:
                    continue
                if name == "siteinfo":
                    yield _siteinfo(elem, lang)
                elif name == "page":
                    in_page = False
                    yield _page(elem)
                elem.clear()  # keep memory flat: drop the finished element and its siblings
                while elem.getprevious() is not None:
                    del elem.getparent()[0]
        parser.close()
    except (etree.XMLSyntaxError, *STREAM_ERRORS) as exc:
        yield Broken(offset, in_page, f"{type(exc).__name__}: {exc}")
