"""The datatrove readers: documents, skip reasons, bad input, and the split between tasks."""
import bz2

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_data import (CYRILLIC, LATIN1, PROSE, big_dump, corrupt_member, small_dump, write_bz2, write_warc,
                         write_wet)

from pipeline.ingest.extractors import make_extractor
from pipeline.ingest.readers import WarcHtmlReader, WetReader, WikipediaParquetReader, WikipediaXmlReader


def read(reader, rank=0, world_size=1):
    return list(reader.run(None, rank, world_size))


def accounted(reader, docs) -> bool:
    return reader.records_read == len(docs) + sum(reader.skipped.values())


# ------------------------------------------------------------------ Wikipedia XML

def test_wikipedia_xml_keeps_articles_with_siteinfo_metadata(tmp_path):
    reader = WikipediaXmlReader([write_bz2(tmp_path / "frwiki.xml.bz2", small_dump())], source="frwiki")
    docs = read(reader)
    assert [d.id for d in docs] == ["frwiki/1", "frwiki/5"]
    assert docs[0].metadata == {"source": "frwiki", "url": "https://fr.wikipedia.org/wiki/Lyon", "title": "Lyon",
                                "timestamp": "2024-01-02T00:00:00Z", "lang": "fr"}
    assert reader.skipped == {"redirect": 1, "non_article_namespace": 1, "disambiguation": 1, "empty_text": 1}
    assert accounted(reader, docs) and reader.errors == []


def test_utf16_dump_reads_like_utf8(tmp_path):
    utf8 = tmp_path / "a.xml"
    utf8.write_text(small_dump(), encoding="utf-8")
    utf16 = tmp_path / "b.xml"
    utf16.write_text('<?xml version="1.0" encoding="UTF-16"?>\n' + small_dump(), encoding="utf-16")
    texts = [[d.text for d in read(WikipediaXmlReader([p], source="w"))] for p in (utf8, utf16)]
    assert texts[0] == texts[1] and "située" in texts[1][0]


def test_xml_ending_mid_page_keeps_earlier_pages_and_reports_offset(tmp_path):
    xml = small_dump()
    cut = xml.index("<title>Paris</title>")  # inside page 5
    path = tmp_path / "cut.xml"
    path.write_text(xml[:cut], encoding="utf-8")
    reader = WikipediaXmlReader([path], source="w")
    docs = read(reader)
    assert [d.id for d in docs] == ["w/1"]
    assert reader.skipped["truncated"] == 1 and accounted(reader, docs)
    assert f"uncompressed byte {len(xml[:cut].encode())}" in reader.errors[0]


def test_bz2_cut_short_keeps_pages_of_complete_blocks(tmp_path):
    data = bz2.compress(big_dump().encode())
    path = tmp_path / "cut.xml.bz2"
    path.write_bytes(data[: len(data) // 2])
    reader = WikipediaXmlReader([path], source="w")
    docs = read(reader)
    assert 50 < len(docs) < 400  # the blocks before the cut, not the rest
    assert [d.id for d in docs] == [f"w/{i}" for i in range(1, len(docs) + 1)]
    assert reader.skipped == {"truncated": 1} and accounted(reader, docs)
    assert "EOFError" in reader.errors[0]


def test_tasks_split_records_and_limit_is_an_exact_prefix(tmp_path):
    path = write_bz2(tmp_path / "d.xml.bz2", big_dump(pages=30, words=5))
    whole = read(WikipediaXmlReader([path], source="w", limit=25))
    parts = [WikipediaXmlReader([path], source="w", limit=25) for _ in range(2)]
    split = [read(r, rank, 2) for rank, r in enumerate(parts)]
    assert [d.id for d in whole] == [f"w/{i}" for i in range(1, 26)]
    assert sorted(d.id for part in split for d in part) == sorted(d.id for d in whole)
    assert [len(p) for p in split] == [13, 12]


# ------------------------------------------------------------------ Wikipedia parquet

def test_wikipedia_parquet_lang_from_file_name_and_empty_text(tmp_path):
    path = tmp_path / "de-leads.parquet"
    pq.write_table(pa.table({"id": ["7", "8"], "url": ["u7", "u8"], "title": ["Berlin", "Leer"],
                             "text": ["Berlin ist die Hauptstadt.", "  "]}), path)
    reader = WikipediaParquetReader([path], source="leads")
    docs = read(reader)
    assert [(d.id, d.metadata["lang"], d.metadata["title"]) for d in docs] == [("leads/7", "de", "Berlin")]
    assert reader.skipped == {"empty_text": 1} and accounted(reader, docs)
    assert read(WikipediaParquetReader([path], source="leads", lang="xx"))[0].metadata["lang"] == "xx"


# ------------------------------------------------------------------ WARC / WET

def test_warc_keeps_html_and_xhtml_decodes_declared_and_sniffed_charsets(tmp_path):
    reader = WarcHtmlReader([write_warc(tmp_path / "a.warc.gz")], source="web")
    extractor = make_extractor("resiliparse", timeout=30)
    docs = list(extractor.run(reader.run()))
    by_url = {d.metadata["url"]: d for d in docs}
    assert set(by_url) == {f"https://example.org/{p}" for p in ("utf8", "xhtml", "cp1251", "latin1")}
    assert CYRILLIC in by_url["https://example.org/cp1251"].text  # HTTP charset
    assert LATIN1 in by_url["https://example.org/latin1"].text  # <meta> charset, no HTTP one
    assert by_url["https://example.org/utf8"].metadata["title"] == "Café & Crème"
    assert all(PROSE in d.text and d.id.startswith("web/urn:uuid:") for d in docs)
    # 1 warcinfo + 8 requests; png; 404; empty body; a page with no text (dropped by the extractor)
    assert reader.skipped == {"not_response": 9, "non_html": 1, "http_status": 1, "empty_payload": 1}
    assert extractor.stats["dropped"].total == 1
    assert reader.records_read == 17 == len(docs) + sum(reader.skipped.values()) + 1


def test_warc_corrupt_gzip_member_costs_one_record(tmp_path):
    path = write_warc(tmp_path / "a.warc.gz", with_requests=False)
    corrupt_member(path, 2)  # the second response (member 0 is warcinfo)
    reader = WarcHtmlReader([path], source="web")
    docs = read(reader)
    assert reader.skipped["unreadable"] == 1 and accounted(reader, docs)
    assert "https://example.org/xhtml" not in {d.metadata["url"] for d in docs}
    assert {"https://example.org/utf8", "https://example.org/blank"} <= {d.metadata["url"] for d in docs}
    assert "corrupt gzip member" in reader.errors[0] and "at byte" in reader.errors[0]


def test_warc_cut_short_counts_the_last_record_truncated(tmp_path):
    path = write_warc(tmp_path / "a.warc.gz", with_requests=False)
    path.write_bytes(path.read_bytes()[:-10])
    reader = WarcHtmlReader([path], source="web")
    docs = read(reader)
    assert reader.skipped["truncated"] == 1 and len(docs) == 4 and accounted(reader, docs)


def test_uncompressed_warc_and_wet(tmp_path):
    reader = WarcHtmlReader([write_warc(tmp_path / "a.warc", gzip=False)], source="web")
    assert len(read(reader)) == 5
    wet = WetReader([write_wet(tmp_path / "a.warc.wet", {"http://a/": "Plain text.", "http://b/": " "})],
                    source="wet")
    docs = read(wet)
    assert [(d.metadata["url"], d.text) for d in docs] == [("http://a/", "Plain text.")]
    assert wet.skipped == {"not_conversion": 1, "empty_text": 1} and accounted(wet, docs)


@pytest.mark.slow
def test_real_enwiki_excerpt_counts(shared_data):
    path = next((shared_data / "wikipedia").glob("enwiki-*.bz2"))
    reader = WikipediaXmlReader([path], source="enwiki")
    docs = read(reader)
    # README: 206 pages, 100 redirects (99 in the article namespace, 1 in Wikipedia:)
    assert reader.records_read == 206 and len(docs) == 98
    assert reader.skipped == {"redirect": 99, "non_article_namespace": 1, "disambiguation": 8}
    anarchism = next(d for d in docs if d.metadata["title"] == "Anarchism")
    assert anarchism.metadata["url"] == "https://en.wikipedia.org/wiki/Anarchism"
    assert anarchism.text.startswith("Anarchism is a political philosophy")
    assert "{{" not in anarchism.text and "\nHistory\n" in anarchism.text
