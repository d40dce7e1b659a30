"""Small input files for the ingest tests, written the way real ones are.

MediaWiki exports follow schema 0.10 as in the enwiki excerpt; WARCs are written by warcio
with one gzip member per record, as Common Crawl does.
"""
from __future__ import annotations

import bz2
import io
import random
from pathlib import Path
from xml.sax.saxutils import escape

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SITEINFO = """  <siteinfo>
    <sitename>Wikipédia</sitename>
    <dbname>frwiki</dbname>
    <base>https://fr.wikipedia.org/wiki/Wikip%C3%A9dia:Accueil_principal</base>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="4" case="first-letter">Wikipédia</namespace>
      <namespace key="6" case="first-letter">Fichier</namespace>
      <namespace key="14" case="first-letter">Catégorie</namespace>
    </namespaces>
  </siteinfo>
"""

ARTICLE = """{{Infobox Ville|nom=Lyon|population=500000}}
'''Lyon''' est une [[ville]] de [[France]].<ref>{{Citation|titre=Source}}</ref> Elle est située
au confluent du [[Rhône (fleuve)|Rhône]] et de la Saône.
[[Fichier:Lyon.jpg|thumb|Vue de Lyon]]
[[File:Other.png|thumb|Another]]

== Histoire ==
La ville a été fondée en 43 av. J.-C. sous le nom de ''Lugdunum''.
{| class="wikitable"
|-
| cellule de tableau || 1
|}

=== Antiquité ===
Capitale des Gaules.

== References ==
{{Reflist}}
* [http://example.org Une source]

[[Catégorie:Ville de France]]
[[Category:Cities]]
"""


def page_xml(page_id: int, title: str, text: str, ns: int = 0, redirect: str | None = None) -> str:
    redirect_tag = f'    <redirect title="{escape(redirect)}" />\n' if redirect else ""
    return (f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n"
            f"{redirect_tag}    <revision>\n      <id>{page_id * 10}</id>\n"
            f"      <timestamp>2024-01-0{page_id % 9 + 1}T00:00:00Z</timestamp>\n"
            f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
            f'      <text xml:space="preserve">{escape(text)}</text>\n    </revision>\n  </page>\n')


def dump_xml(pages: list[str]) -> str:
    return ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="fr">\n'
            + SITEINFO + "".join(pages) + "</mediawiki>\n")


def small_dump() -> str:
    """One page per skip reason, plus two articles."""
    return dump_xml([
        page_xml(1, "Lyon", ARTICLE),
        page_xml(2, "Lugdunum", "#REDIRECTION [[Lyon]]", redirect="Lyon"),
        page_xml(3, "Wikipédia:Accueil", "Bienvenue", ns=4),
        page_xml(4, "Mercure", "'''Mercure''' peut désigner :\n* [[Mercure (planète)]]\n{{Homonymie}}"),
        page_xml(5, "Paris", "'''Paris''' est la capitale de la [[France]]."),
        page_xml(6, "Vide", "{{Ébauche}}"),
    ])


def random_words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
                    for _ in range(n))


def big_dump(pages: int = 400, words: int = 800) -> str:
    """Pages of random words: ~2.5 MB that bz2 cannot squeeze into one 900 kB block."""
    rng = random.Random(0)
    return dump_xml([page_xml(i, f"Page {i}", random_words(rng, words)) for i in range(1, pages + 1)])


def write_bz2(path: Path, text: str) -> Path:
    path.write_bytes(bz2.compress(text.encode("utf-8")))
    return path


HTML_UTF8 = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Café &amp; Crème</title></head>"
             "<body><article><h1>Crème brûlée</h1><p>{}</p></article></body></html>")
XHTML = ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
         '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">'
         "<head><title>XHTML page</title></head><body><div><p>{}</p></div></body></html>")
CYRILLIC = "Привет мир. Это страница в кодировке windows-1251, и её текст должен читаться правильно."
LATIN1 = "Über Straße: à la française, déjà vu. Ce texte est encodé en ISO-8859-1 sans en-tête HTTP."
PROSE = ("This paragraph is long enough for an extractor to keep it as the main content of the page. "
         "It talks about rivers, bridges and the history of a small harbour town in the north.")


def warc_records() -> list[dict]:
    """(kind, url, content type, body) of a realistic mixed crawl; kept ones say why."""
    return [
        {"url": "https://example.org/utf8", "type": "text/html; charset=utf-8",
         "body": HTML_UTF8.format(PROSE).encode("utf-8")},
        {"url": "https://example.org/xhtml", "type": "application/xhtml+xml",
         "body": XHTML.format(PROSE).encode("utf-8")},
        {"url": "https://example.org/cp1251", "type": "text/html; charset=windows-1251",
         "body": f"<html><body><p>{CYRILLIC}</p><p>{PROSE}</p></body></html>".encode("cp1251")},
        {"url": "https://example.org/latin1", "type": "text/html",
         "body": (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
                  f"</head><body><p>{LATIN1}</p><p>{PROSE}</p></body></html>").encode("latin-1")},
        {"url": "https://example.org/logo.png", "type": "image/png", "body": b"\x89PNG\r\n\x1a\n" + bytes(64)},
        {"url": "https://example.org/missing", "type": "text/html", "status": "404 Not Found",
         "body": b"<html><body><p>Not found</p></body></html>"},
        {"url": "https://example.org/empty", "type": "text/html", "body": b""},
        {"url": "https://example.org/blank", "type": "text/html", "body": b"<html><body></body></html>"},
    ]


def write_warc(path: Path, records: list[dict] | None = None, gzip: bool = True, with_requests: bool = True) -> Path:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "lmpipe tests"}))
        for rec in records if records is not None else warc_records():
            if with_requests:
                req = StatusAndHeaders(f"GET {rec['url']} HTTP/1.1", [("Host", "example.org")], is_http_request=True)
                writer.write_record(writer.create_warc_record(rec["url"], "request", http_headers=req))
            http = StatusAndHeaders(rec.get("status", "200 OK"), [("Content-Type", rec["type"])], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(rec["url"], "response", payload=io.BytesIO(rec["body"]),
                                                          http_headers=http))
    return path


def write_wet(path: Path, texts: dict[str, str]) -> Path:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "lmpipe tests"}))
        for url, text in texts.items():
            writer.write_record(writer.create_warc_record(
                url, "conversion", payload=io.BytesIO(text.encode("utf-8")),
                warc_headers_dict={"Content-Type": "text/plain"}))
    return path


def gzip_member_offsets(data: bytes) -> list[int]:
    import zlib

    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        decomp = zlib.decompressobj(wbits=31)
        decomp.decompress(data[pos:])
        pos = len(data) - len(decomp.unused_data)
    return offsets


def corrupt_member(path: Path, index: int) -> None:
    """Flip bytes inside the deflate data of the index-th gzip member."""
    data = bytearray(path.read_bytes())
    start = gzip_member_offsets(bytes(data))[index]
    for i in range(start + 20, start + 40):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
