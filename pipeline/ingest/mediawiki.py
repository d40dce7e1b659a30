"""Streaming a MediaWiki XML export (pages-articles dumps, any schema version, any language).

lxml's pull parser is fed the decompressed bytes chunk by chunk, so memory stays flat on a
multi-GB dump and the byte offset of a cut or corrupt spot is known. The parser reads the
encoding from the XML declaration / BOM, so UTF-16 dumps need nothing special.

A dump that stops being readable (cut short, a bad byte, a corrupt compressed block) ends in a
Broken: every page completed before the error has been yielded, and the <page> tags in the
bytes after it are counted, since an XML parser cannot resume after an error. Past a corrupt
stream of a multistream .bz2 (Wikipedia's `-multistream` dumps) the counting resumes at the next
stream header; only the rest of the bad stream itself (at most 100 pages there) is unknown.

The XML's siteinfo names each namespace by its local name only ("Fails", "Kategoreja"), not
by its aliases (Phabricator T64109); Wikimedia publishes those beside each dump, in
<wiki>-<date>-siteinfo-namespaces.json.gz (the API's meta=siteinfo), read here when present.
"""
from __future__ import annotations

import itertools
import json
import re
import urllib.parse
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from pipeline.formats.inputs import STREAM_ERRORS, CorruptStream, iter_decompressed, next_bz2_stream, read_all

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PAGE_START = b"<page>"  # in a dump's bytes only as the tag: page text has it escaped (&lt;page&gt;)
# The recent bytes kept to turn a parse error's line and column into a byte offset. libxml2
# reports a bad byte in a text node once the whole node has arrived, and a page's text is up
# to 2 MiB (MediaWiki's $wgMaxArticleSize), a little more once escaped.
RECENT_BYTES = 4 << 20
# Before schema 0.4 a redirect is known from its text only; "#REDIRECT" works in every language.
_REDIRECT = re.compile(r"\s*#REDIRECT\s*:?\s*\[\[", re.IGNORECASE)
# enwiki-20240601-pages-articles1.xml-p1p41242.bz2 -> enwiki-20240601 (or enwiki-latest)
_DUMP_PREFIX = re.compile(r"^([^-]+-[^-]+)-")
SITEINFO_JSON_SUFFIXES = ("-siteinfo-namespaces.json.gz", "-siteinfo-namespaces.json")


@dataclass
class SiteInfo:
    lang: str | None = None
    base_url: str | None = None  # https://en.wikipedia.org/wiki/Main_Page
    namespaces: dict[int, str] = field(default_factory=dict)  # key -> local name
    aliases: dict[int, list[str]] = field(default_factory=dict)  # key -> canonical name and aliases

    def names(self, key: int) -> list[str]:
        """Every name MediaWiki accepts for namespace `key`."""
        return [name for name in (self.namespaces.get(key), *self.aliases.get(key, ())) if name]

    def page_url(self, title: str) -> str | None:
        if not self.base_url:
            return None
        root = self.base_url.rsplit("/", 1)[0]
        # the characters MediaWiki's wfUrlencode leaves as they are
        return f"{root}/{urllib.parse.quote(title.replace(' ', '_'), safe=';@$!*(),/~:')}"

    def namespace_of(self, title: str) -> int:
        """The namespace a title's prefix names ("Talk:Foo" -> 1), as MediaWiki matches it
        (case-insensitively); 0 when the prefix is no namespace ("Star Wars: Episode I")."""
        prefix, colon, _ = title.partition(":")
        if not colon:
            return 0
        prefix = " ".join(prefix.replace("_", " ").split()).casefold()
        return next((key for key in {*self.namespaces, *self.aliases}
                     if prefix in (name.casefold() for name in self.names(key))), 0)


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
    offset: int  # uncompressed byte of the error (where the parser placed it, else bytes read)
    in_page: bool  # a page had started and is lost
    message: str  # one line
    pages_after: int = 0  # pages starting after the error, found in the bytes that follow
    rest_unreadable: bool = False  # the bytes after it cannot be decompressed: their pages are unknown
    streams_skipped: int = 0  # corrupt bz2 streams passed over to count the pages of later ones


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(elem, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return child.text
    return None


def siteinfo_json(dump: str | Path) -> Path | None:
    """The siteinfo-namespaces JSON Wikimedia publishes beside `dump`, if it is there."""
    dump = Path(dump)
    prefix = _DUMP_PREFIX.match(dump.name)
    candidates = [dump.with_name(prefix.group(1) + suffix) for suffix in SITEINFO_JSON_SUFFIXES] if prefix else []
    return next((path for path in candidates if path.is_file()), None)


def read_namespace_aliases(path: str | Path) -> dict[int, list[str]]:
    """Canonical names and aliases by namespace key from an API meta=siteinfo JSON
    (siprop=namespaces|namespacealiases; formatversion 1 or 2). ValueError (one line, naming
    the file) when it is no such JSON."""
    data, cut = read_all(path)
    try:
        if cut:
            raise ValueError(f"cut short: {cut.message}")
        query = json.loads(data)["query"]
        aliases: dict[int, list[str]] = {}
        for ns in query["namespaces"].values():
            if ns.get("canonical"):
                aliases.setdefault(int(ns["id"]), []).append(ns["canonical"])
        for alias in query.get("namespacealiases", []):
            aliases.setdefault(int(alias["id"]), []).append(alias.get("*") or alias["alias"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a siteinfo-namespaces JSON ({type(exc).__name__}: {exc})") from None
    return aliases


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


def _page(elem, site: SiteInfo) -> Page:
    fields, revision = {}, None
    for child in elem:
        name = _local(child.tag)
        if name == "revision":
            revision = child
        else:
            fields[name] = child
    rev = {_local(c.tag): c.text for c in revision} if revision is not None else {}
    title, text = fields["title"].text or "", rev.get("text") or ""
    if "ns" in fields:
        ns, redirect = int(fields["ns"].text), "redirect" in fields
    else:  # schema < 0.6 (<ns>), maybe < 0.4 (<redirect>): what MediaWiki itself reads them from
        ns = site.namespace_of(title)
        redirect = "redirect" in fields or bool(_REDIRECT.match(text))
    return Page(id=fields["id"].text, title=title, ns=ns, redirect=redirect, model=rev.get("model"),
                timestamp=rev.get("timestamp"), text=text)


class _Events:
    """Turns the parser's events into SiteInfo and Pages, and knows where it is: inside a
    page or not, and how many pages have started."""

    def __init__(self, aliases: dict[int, list[str]]):
        self.depth, self.in_page, self.lang, self.site = 0, False, None, None
        self.aliases = aliases
        self.pages_started = 0

    def read(self, parser) -> Iterator[SiteInfo | Page]:
        for event, elem in parser.read_events():
            name = _local(elem.tag)
            if event == "start":
                self.depth += 1
                self.lang = elem.get(XML_LANG) if self.depth == 1 else self.lang
                if self.depth == 2 and name == "page":
                    self.in_page = True
                    self.pages_started += 1
                    if self.site is None:  # no <siteinfo>: the root's xml:lang is all there is
                        self.site = SiteInfo(lang=self.lang, aliases=self.aliases)
                        yield self.site
                continue
            self.depth -= 1
            if self.depth != 1:
                continue
            if name == "siteinfo":
                self.site = _siteinfo(elem, self.lang)
                self.site.aliases = self.aliases
                yield self.site
            elif name == "page":
                self.in_page = False
                yield _page(elem, self.site)
            elem.clear()  # keep memory flat: drop the finished element and its siblings
            while elem.getprevious() is not None:
                del elem.getparent()[0]


class _Recent:
    """The last RECENT_BYTES fed to the parser, with their offset and line number, to turn
    the (line, column) of a parse error into a byte offset."""

    def __init__(self):
        self.chunks: deque[tuple[int, int, bytes]] = deque()  # (offset, lines before it, bytes)
        self.end = self.lines = self.size = 0
        self.ascii = True  # newlines are b"\n" and columns count UTF-8 characters (not UTF-16)

    def add(self, chunk: bytes) -> None:
        if not self.end:
            self.ascii = not (chunk[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in chunk[:4])
        self.chunks.append((self.end, self.lines, chunk))
        self.end += len(chunk)
        self.lines += chunk.count(b"\n")
        self.size += len(chunk)
        while self.size - len(self.chunks[0][2]) >= RECENT_BYTES:
            self.size -= len(self.chunks.popleft()[2])

    def offset_of(self, line: int, column: int) -> int:
        """The byte at `line` (1-based) and `column` (1-based, in characters), or the start of
        the last chunk when that line began before the bytes kept."""
        start, lines, _ = self.chunks[0]
        fallback = self.chunks[-1][0]
        newlines = line - 1 - lines  # newlines between the bytes kept's start and the line's
        if not self.ascii or newlines < 0 or (newlines == 0 and start > 0) or column < 1:
            return fallback
        data, pos = b"".join(c for _, _, c in self.chunks), 0
        for _ in range(newlines):
            pos = data.find(b"\n", pos) + 1
            if not pos:
                return fallback
        n = column - 1  # characters before the error on its line; an invalid byte counts as one
        before = data[pos:pos + 4 * n].decode("utf-8", "surrogateescape")[:n]
        return start + pos + len(before.encode("utf-8", "surrogateescape"))


def _pages_in(path: str | Path, chunks: Iterable[bytes], carry: bytes,
              corrupt: CorruptStream | None = None) -> tuple[int, int, Exception | None]:
    """The <page> tags in `chunks` (the rest of the dump; `carry`: the bytes just before, for
    a tag split between chunks), then in each later bz2 stream past a corrupt one (`corrupt`:
    one already met): (pages, corrupt streams passed over, the error that stopped the count,
    None at the end of the file)."""
    count, skipped, keep = 0, 0, len(PAGE_START) - 1
    while True:
        if corrupt is not None:  # resume at the next stream, if there is one
            resume = next_bz2_stream(path, corrupt.stream_offset)
            if resume is None:
                return count, skipped, corrupt
            chunks, carry, skipped, corrupt = iter_decompressed(path, start=resume), b"", skipped + 1, None
        try:
            for chunk in chunks:
                count += chunk.count(PAGE_START) + (carry + chunk[:keep]).count(PAGE_START)
                carry = (carry + chunk[-keep:])[-keep:]
            return count, skipped, None
        except CorruptStream as exc:
            corrupt = exc
        except STREAM_ERRORS as exc:
            return count, skipped, exc


def _rest_unreadable(error: Exception | None) -> bool:
    """Whether the count of later pages stopped at data that cannot be decompressed (a cut
    short file, EOFError, ends in its last stream: nothing is unknown after it)."""
    return error is not None and not isinstance(error, EOFError)


def _message(exc: Exception) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())  # lxml's messages span lines


def iter_dump(path: str | Path, aliases: dict[int, list[str]] | None = None) -> Iterator[SiteInfo | Page | Broken]:
    """The SiteInfo first (`aliases`: from read_namespace_aliases), then each Page; a Broken
    last if the dump is cut short or corrupt."""
    parser = etree.XMLPullParser(events=("start", "end"), huge_tree=True, resolve_entities=False,
                                 no_network=True)
    events, recent = _Events(aliases or {}), _Recent()
    chunks = iter_decompressed(path)
    try:
        for chunk in chunks:
            recent.add(chunk)
            started = events.pages_started
            try:
                parser.feed(chunk)
            except etree.XMLSyntaxError as exc:  # corrupt XML: a bad byte, a garbled tag
                # The events before the error are still queued: the pages they complete are whole.
                yield from events.read(parser)
                yield _syntax_error(path, exc, events, recent, chunks, started)
                return
            yield from events.read(parser)
        parser.close()
    except etree.XMLSyntaxError as exc:  # from close(): the XML ends early
        yield Broken(recent.end, events.in_page, _message(exc))
    except CorruptStream as exc:  # corrupt compressed data: count the pages of any later stream
        found, skipped, error = _pages_in(path, (), b"", corrupt=exc)
        message = _message(exc) + (f" (then {_message(error)})" if error not in (None, exc) else "")
        yield Broken(recent.end, events.in_page, message, found, rest_unreadable=_rest_unreadable(error),
                     streams_skipped=skipped)
    except STREAM_ERRORS as exc:  # cut short (EOFError: nothing follows)
        yield Broken(recent.end, events.in_page, _message(exc), rest_unreadable=_rest_unreadable(exc))


def _syntax_error(path: str | Path, exc: etree.XMLSyntaxError, events: _Events, recent: _Recent,
                  chunks: Iterator[bytes], started: int) -> Broken:
    """A Broken for a parse error in the last chunk fed. The pages after it are counted from
    the <page> tags in the rest of the file, less those whose start the parser already saw in
    this chunk (the page with the error among them). Not for a file that is no dump at all:
    nothing was read from it, and the preflight check should not scan it to the end."""
    offset, chunk = recent.chunks[-1][0], recent.chunks[-1][2]
    if exc.position and exc.position[0] > 0:
        offset = recent.offset_of(*exc.position)
    if events.site is None and not events.pages_started:
        return Broken(offset, events.in_page, _message(exc))
    before = recent.chunks[-2][2][-(len(PAGE_START) - 1):] if len(recent.chunks) > 1 else b""
    found, skipped, error = _pages_in(path, itertools.chain([chunk], chunks), before)
    message = _message(exc) + (f" (then {_message(error)})" if error else "")
    return Broken(offset, events.in_page, message, found - (events.pages_started - started),
                  rest_unreadable=_rest_unreadable(error), streams_skipped=skipped)
