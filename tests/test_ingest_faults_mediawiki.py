"""MediaWiki dumps from outside that used to break ingest (issue 15): exports in an old schema
without <ns>, and a bad byte or a corrupt bz2 block in the middle of a dump."""
import bz2
import random
from xml.sax.saxutils import escape

import pytest
from ingest_data import big_dump, dump_xml, page_xml, random_words, write_bz2

from pipeline.ingest.config import Source
from pipeline.formats.inputs import iter_decompressed, next_bz2_stream
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


def multistream_dump(tmp_path, pages: int = 400, per_stream: int = 100):
    """A dump laid out as Wikipedia's -multistream files are: the header and siteinfo in a stream
    of their own, then `per_stream` pages a stream, then the closing tag. Returns the path and
    each stream's compressed offset."""
    rng = random.Random(0)
    xml = dump_xml([])
    header, footer = xml[: -len("</mediawiki>\n")], "</mediawiki>\n"
    parts = [header] + ["".join(page_xml(i, f"Page {i}", random_words(rng, 200))
                                for i in range(first, first + per_stream))
                        for first in range(1, pages + 1, per_stream)] + [footer]
    streams = [bz2.compress(part.encode()) for part in parts]
    offsets = [sum(map(len, streams[:k])) for k in range(len(streams))]
    return b"".join(streams), offsets


def corrupt_at(data: bytes, at: int) -> bytes:
    damaged = bytearray(data)
    damaged[at:at + 20] = bytes(b ^ 0x5A for b in damaged[at:at + 20])
    return bytes(damaged)


def test_corrupt_stream_of_a_multistream_dump_counts_the_later_streams(tmp_path):
    data, offsets = multistream_dump(tmp_path)
    # the stream of pages 101-200 is corrupt in its middle
    path = tmp_path / "enwiki-pages-articles-multistream.xml.bz2"
    path.write_bytes(corrupt_at(data, (offsets[2] + offsets[3]) // 2))
    reader = WikipediaXmlReader([path], source="w")
    docs = read(reader)
    assert [d.id for d in docs] == [f"w/{i}" for i in range(1, 101)]  # every page before the bad stream
    # pages 201-400, in the two streams after it, are counted; the bad stream's own are unknown
    assert reader.skipped == {"unreadable_after_error": 200}
    assert reader.records_read == 300 and accounted(reader, docs)
    assert len(reader.errors) == 1 and "\n" not in reader.errors[0]
    error = reader.errors[0]
    assert error.startswith(f"{path}: dump unreadable from uncompressed byte ") and "(between pages)" in error
    assert f".bz2 stream at compressed byte {offsets[2]}: Invalid data stream" in error
    assert "200 pages after it not read (unreadable_after_error)" in error
    assert "1 corrupt bz2 stream passed over" in error
    assert "the rest of the file cannot be decompressed" not in error


def test_a_bad_byte_then_a_corrupt_stream_counts_past_both(tmp_path):
    data, offsets = multistream_dump(tmp_path)
    stream_of_page_50 = bz2.decompress(data[offsets[1]:offsets[2]])
    bad = stream_of_page_50.index(b"<title>Page 50<")
    damaged = bz2.compress(stream_of_page_50[:bad] + b"<\x01" + stream_of_page_50[bad + 2:])
    shift = len(damaged) - (offsets[2] - offsets[1])
    data = data[:offsets[1]] + damaged + data[offsets[2]:]
    path = tmp_path / "dump.xml.bz2"
    path.write_bytes(corrupt_at(data, (offsets[3] + offsets[4]) // 2 + shift))  # pages 201-300's stream
    reader = WikipediaXmlReader([path], source="w")
    docs = read(reader)
    assert [d.id for d in docs] == [f"w/{i}" for i in range(1, 50)]
    # page 50 is lost mid-page; 51-200 and 301-400 are counted past the bad byte and the bad stream
    assert reader.skipped == {"truncated": 1, "unreadable_after_error": 250}
    assert "1 corrupt bz2 stream passed over" in reader.errors[0]


def test_next_bz2_stream_finds_each_header_and_none_after_the_last(tmp_path):
    data, offsets = multistream_dump(tmp_path)
    path = tmp_path / "d.xml.bz2"
    path.write_bytes(data)
    found, at = [], 0
    while (at := next_bz2_stream(path, at)) is not None:
        found.append(at)
    assert found == offsets[1:]
    assert next_bz2_stream(tmp_path / "d.xml.gz", 0) is None  # bz2 only
