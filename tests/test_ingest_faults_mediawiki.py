"""MediaWiki dumps from outside that used to break ingest (issue 15): exports in an old schema
without <ns>, and a bad byte or a corrupt bz2 block in the middle of a dump."""
import bz2
import random
from xml.sax.saxutils import escape

import pytest
from ingest_data import big_dump, dump_xml, page_xml, random_words, write_bz2

from pipeline.ingest.config import Source
from pipeline.formats.inputs import iter_decompressed
from pipeline.ingest.mediawiki import Page, iter_dump
from pipeline.ingest.readers import WikipediaXmlReader
from pipeline.ingest.stage import _preflight


def read(reader):
    return list(reader.run(None, 0, 1))


def accounted(reader, docs) -> bool:
    return reader.records_read == len(docs) + sum(reader.skipped.values())


# ------------------------------------------------------------------ export schema 0.3

# Special:Export of a 2007 wiki: the siteinfo lists the namespaces, but pages have no <ns>
# (schema 0.6 added it), no <redirect> (0.4) and no <model> (0.8).
NAMESPACES_03 = {-2: "Media", -1: "Special", 0: "", 1: "Talk", 2: "User", 3: "User talk", 4: "Wikipedia",
                 5: "Wikipedia talk", 6: "Image", 7: "Image talk", 8: "MediaWiki", 10: "Template", 12: "Help",
                 14: "Category", 15: "Category talk"}
HEADER_03 = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.3/" '
             'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation='
             '"http://www.mediawiki.org/xml/export-0.3/ http://www.mediawiki.org/xml/export-0.3.xsd" '
             'version="0.3" xml:lang="en">\n  <siteinfo>\n    <sitename>Wikipedia</sitename>\n'
             "    <base>http://en.wikipedia.org/wiki/Main_Page</base>\n"
             "    <generator>MediaWiki 1.10alpha</generator>\n    <case>first-letter</case>\n    <namespaces>\n"
             + "".join(f'      <namespace key="{k}">{n}</namespace>\n' if n else f'      <namespace key="{k}" />\n'
                       for k, n in NAMESPACES_03.items())
             + "    </namespaces>\n  </siteinfo>\n")
PROSE = "'''{}''' is a [[political philosophy]] and a movement that is sceptical of authority."


def page_03(page_id: int, title: str, text: str) -> str:
    return (f"  <page>\n    <title>{escape(title)}</title>\n    <id>{page_id}</id>\n    <revision>\n"
            f"      <id>{page_id * 10}</id>\n      <timestamp>2007-01-0{page_id}T00:00:00Z</timestamp>\n"
            f"      <contributor>\n        <username>Someone</username>\n        <id>7</id>\n      </contributor>\n"
            f"      <comment>edit</comment>\n"
            f'      <text xml:space="preserve">{escape(text)}</text>\n    </revision>\n  </page>\n')


PAGES_03 = [(1, "Anarchism", PROSE.format("Anarchism"), 0),
            (2, "Talk:Anarchism", "Is this neutral? ~~~~", 1),
            (3, "Category:Political philosophy", "Pages about [[political philosophy]].", 14),
            (4, "Star Wars: Episode I", PROSE.format("Star Wars: Episode I"), 0),  # a colon, no namespace
            (5, "Image:Flag.svg", "A black flag.", 6),
            (6, "User talk:Someone", "Hello.", 3),
            (7, "AnarchY", "#REDIRECT [[Anarchism]]", 0),  # 0.3 has no <redirect>: only the text says so
            (8, "Wikipedia:About", "About this wiki.", 4)]


def test_schema_03_dump_takes_namespaces_from_title_prefixes(tmp_path):
    xml = HEADER_03 + "".join(page_03(i, title, text) for i, title, text, _ in PAGES_03) + "</mediawiki>\n"
    path = write_bz2(tmp_path / "oldwiki.xml.bz2", xml)
    pages = [item for item in iter_dump(path) if isinstance(item, Page)]
    assert [(p.title, p.ns) for p in pages] == [(title, ns) for _, title, _, ns in PAGES_03]
    reader = WikipediaXmlReader([path], source="old")
    docs = read(reader)
    assert [d.id for d in docs] == ["old/1", "old/4"]
    assert docs[0].text.startswith("Anarchism is a political philosophy")
    assert docs[0].metadata == {"source": "old", "url": "http://en.wikipedia.org/wiki/Anarchism",
                                "title": "Anarchism", "timestamp": "2007-01-01T00:00:00Z", "lang": "en"}
    assert docs[1].metadata["url"] == "http://en.wikipedia.org/wiki/Star_Wars:_Episode_I"
    assert reader.skipped == {"non_article_namespace": 5, "redirect": 1}
    assert accounted(reader, docs) and reader.errors == []


# ------------------------------------------------------------------ a bad byte mid-dump

def prose_dump(pages: int) -> str:
    """~1 kB per page: 120 pages span two 64 kB parse chunks of a plain file, one bz2 block."""
    rng = random.Random(1)
    return dump_xml([page_xml(i, f"Page {i}", random_words(rng, 100)) for i in range(1, pages + 1)])


def with_bad_byte(xml: str, page: int) -> tuple[bytes, int]:
    """The dump with an invalid UTF-8 byte inside the text of `page`, and its offset."""
    data = xml.encode("utf-8")
    at = data.index(b'xml:space="preserve">', data.index(f"<title>Page {page}</title>".encode())) + 60
    return data[:at] + b"\xff" + data[at:], at


@pytest.mark.parametrize("name", ["dump.xml", "dump.xml.bz2"])
def test_invalid_byte_mid_dump_keeps_earlier_pages_and_counts_the_rest(tmp_path, name):
    data, at = with_bad_byte(prose_dump(120), page=90)
    path = tmp_path / name
    path.write_bytes(bz2.compress(data) if name.endswith(".bz2") else data)
    reader = WikipediaXmlReader([path], source="w")
    docs = read(reader)
    assert [d.id for d in docs] == [f"w/{i}" for i in range(1, 90)]  # also those parsed with the bad one
    assert reader.skipped == {"truncated": 1, "unreadable_after_error": 30}
    assert reader.records_read == 120 and accounted(reader, docs)
    assert len(reader.errors) == 1 and "\n" not in reader.errors[0]
    assert reader.errors[0].startswith(f"{path}: dump unreadable from uncompressed byte {at} (inside a page)")
    assert "30 pages after it not read (unreadable_after_error)" in reader.errors[0]
    # the stage's check of the file's head: readable, so no hard error for the whole file
    _preflight(Source(name="w", kind="wikipedia_xml", uri="*"), path)


def test_corrupt_bz2_block_keeps_pages_of_earlier_blocks(tmp_path):
    data = bytearray(bz2.compress(big_dump().encode()))
    mid = len(data) // 2
    data[mid:mid + 20] = bytes(b ^ 0x5A for b in data[mid:mid + 20])
    path = tmp_path / "dump.xml.bz2"
    path.write_bytes(bytes(data))
    readable = 0  # what the decompressor gives before the bad block
    with pytest.raises(OSError):
        for chunk in iter_decompressed(path):
            readable += len(chunk)
    reader = WikipediaXmlReader([path], source="w")
    docs = read(reader)
    assert 50 < len(docs) < 400 and [d.id for d in docs] == [f"w/{i}" for i in range(1, len(docs) + 1)]
    assert reader.skipped == {"truncated": 1} and accounted(reader, docs)
    # nothing after a corrupt block can be decompressed (bz2 has no resync), so its pages
    # cannot be counted: the error says so
    assert reader.errors[0].startswith(f"{path}: dump unreadable from uncompressed byte {readable} (inside a page)")
    assert "the rest of the file cannot be decompressed" in reader.errors[0]
