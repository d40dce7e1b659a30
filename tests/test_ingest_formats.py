"""The wikiextractor, Project Gutenberg, text and JSON Lines readers: documents, skip reasons,
bad input (each error names its file), and slices of the real corpora."""
import bz2
import gzip
import json
import lzma
import random
import zipfile

import pytest

from pipeline.config import build
from pipeline.errors import ConfigError, InputError
from pipeline.ingest.config import Source
from pipeline.ingest.gutenberg import GutenbergReader, language_code, split_book, unwrap
from pipeline.ingest.stage import _preflight
from pipeline.ingest.textfiles import JsonlReader, TextReader
from pipeline.ingest.wikiextractor import WikiextractorReader

COMPRESS = {".bz2": bz2.compress, ".gz": gzip.compress, ".xz": lzma.compress}


def write(path, text: str):
    data = text.encode("utf-8")
    path.write_bytes(COMPRESS.get(path.suffix, lambda d: d)(data))
    return path


def read(reader, rank=0, world_size=1):
    return list(reader.run(None, rank, world_size))


def accounted(reader, docs) -> bool:
    return reader.records_read == len(docs) + sum(reader.skipped.values())


# ------------------------------------------------------------------ wikiextractor

def wiki_doc(page_id, title, body):
    """A page as wikiextractor's text output writes it: header, title line, blank, text."""
    return f'<doc id="{page_id}" url="?curid={page_id}" title="{title}">\n{title}\n\n{body}\n</doc>\n'


WIKI_TEXT = (wiki_doc(10, "Lyon", "Lyon is a city in France.\nHistory.\nIt was founded in 43 BC.")
             + wiki_doc(11, "Lugdunum", "")  # a redirect: the title only
             + wiki_doc(12, "Jammu &amp; Kashmir", "Jammu &amp; Kashmir &lt;br&gt; is a region."))


def test_wikiextractor_text_drops_title_line_unescapes_and_skips_title_only_pages(tmp_path):
    reader = WikiextractorReader([write(tmp_path / "wiki_00.bz2", WIKI_TEXT)], source="wx", lang="en")
    docs = read(reader)
    assert [d.id for d in docs] == ["wx/10", "wx/12"]
    assert docs[0].text == "Lyon is a city in France.\nHistory.\nIt was founded in 43 BC."
    assert docs[1].text == "Jammu & Kashmir <br> is a region."
    assert docs[1].metadata == {"source": "wx", "url": None, "title": "Jammu & Kashmir", "timestamp": None,
                                "lang": "en"}
    assert reader.skipped == {"empty_text": 1} and accounted(reader, docs) and reader.errors == []


def test_wikiextractor_json_format_detected_per_file(tmp_path):
    pages = [{"id": "3", "revid": "9", "url": "https://en.wikinews.org/wiki?curid=3",
              "title": "Told to &quot;wash&quot;", "text": "Some &lt;b&gt;news&lt;/b&gt; today.\nMore."},
             {"id": "4", "revid": "9", "url": "https://en.wikinews.org/wiki?curid=4", "title": "Empty", "text": ""}]
    (tmp_path / "AB").mkdir()
    json_file = write(tmp_path / "AB" / "wiki_00.xz", "\n".join(json.dumps(p) for p in pages) + "\n")
    text_file = write(tmp_path / "wiki_01.gz", wiki_doc(5, "Paris", "Paris is the capital."))
    reader = WikiextractorReader([json_file, text_file], source="wn")
    docs = read(reader)
    assert [(d.id, d.text) for d in docs] == [("wn/3", "Some <b>news</b> today.\nMore."),
                                              ("wn/5", "Paris is the capital.")]
    assert docs[0].metadata["title"] == 'Told to "wash"'
    assert docs[0].metadata["url"] == "https://en.wikinews.org/wiki?curid=3"
    assert reader.skipped == {"empty_text": 1} and accounted(reader, docs)
    forced = WikiextractorReader([json_file], source="wn", format="text")  # JSON read as <doc> text: nothing
    assert read(forced) == [] and "outside <doc>" in forced.errors[0]


def test_empty_wikiextractor_file_is_recorded(tmp_path):
    empty, blank_bz2 = tmp_path / "wiki_00", write(tmp_path / "wiki_01.bz2", "\n\n")
    empty.write_bytes(b"")
    good = write(tmp_path / "wiki_02", wiki_doc(7, "Rome", "Rome is old."))
    reader = WikiextractorReader([empty, blank_bz2, good], source="wx")
    docs = read(reader)
    assert [d.id for d in docs] == ["wx/7"] and accounted(reader, docs)
    assert [e.split(":")[0] for e in reader.errors] == [str(empty), str(blank_bz2)]
    assert all("empty file" in e for e in reader.errors)
    with pytest.raises(InputError, match="wiki_00: empty file"):  # the stage: a failed download or copy
        _preflight(Source(name="wx", kind="wikiextractor", uri="*"), empty)


def test_wikiextractor_doc_never_closed(tmp_path):
    unclosed = wiki_doc(1, "A", "First.").replace("</doc>\n", "")
    text = unclosed + wiki_doc(2, "B", "Second.") + wiki_doc(3, "C", "Third.").replace("</doc>\n", "")
    path = write(tmp_path / "wiki_00", text)
    reader = WikiextractorReader([path], source="wx")
    docs = read(reader)
    assert [d.id for d in docs] == ["wx/2"]
    assert reader.skipped == {"unclosed_doc": 2} and accounted(reader, docs)
    assert reader.errors == [f"{path}:1: <doc> never closed (next <doc> at line 5)",
                             f"{path}:10: <doc> never closed (the file ends first)"]


def test_truncated_wikiextractor_bz2_keeps_pages_before_the_cut(tmp_path):
    rng = random.Random(0)
    words = lambda n: " ".join("".join(rng.choice("abcdefghij") for _ in range(6)) for _ in range(n))  # noqa: E731
    data = bz2.compress("".join(wiki_doc(i, f"Page {i}", words(300)) for i in range(1, 1001)).encode())
    path = tmp_path / "wiki_00.bz2"  # ~2 MB of text: several bz2 blocks
    path.write_bytes(data[: len(data) // 2])
    reader = WikiextractorReader([path], source="wx")
    docs = read(reader)
    assert 100 < len(docs) < 900 and [d.id for d in docs] == [f"wx/{i}" for i in range(1, len(docs) + 1)]
    assert reader.skipped == {"truncated": 1} and accounted(reader, docs)
    assert reader.errors[0].startswith(f"{path}: unreadable from uncompressed byte") and "EOFError" in reader.errors[0]


# ------------------------------------------------------------------ Project Gutenberg

PG_HEADER = """The Project Gutenberg EBook of {title}, by {author}\r
\r
This eBook is for the use of anyone anywhere at no cost and with\r
almost no restrictions whatsoever.\r
\r
Title: {title}\r
\r
Author: {author}\r
\r
Release Date: June, 2004  [EBook #{number}]\r
\r
Language: {language}\r
\r
*** START OF THIS PROJECT GUTENBERG EBOOK {upper} ***\r
\r
Produced by Charles Aldarondo and the Online Distributed\r
Proofreading Team\r
\r
"""
PG_FOOTER = """\r
End of the Project Gutenberg EBook of {title}, by {author}\r
\r
*** END OF THIS PROJECT GUTENBERG EBOOK {upper} ***\r
\r
***** This file should be named 5830.txt or 5830.zip *****\r
Updated editions will replace the previous one--the old editions\r
will be renamed. Project Gutenberg is a registered trademark.\r
"""
PROSE = ("It was a bright cold day in April, and the clocks were striking thirteen. The\r\n"
         "hall smelt of boiled cabbage and old rag mats. At one end of it a coloured\r\n"
         "poster, too large for indoor display, had been tacked to the wall.\r\n")
VERSE = ("Once upon a midnight dreary, while I pondered, weak and weary,\r\n"
         "Over many a quaint and curious volume of forgotten lore--\r\n"
         "    While I nodded, nearly napping, suddenly there came a tapping.\r\n")


def book(title="A Garland", author="Louisa May Alcott", number=5830, language="English", chapters=3):
    body = "".join(f"CHAPTER {'I' * (i + 1)}\r\n\r\n" + f"{PROSE}\r\n" * 4 + f"{VERSE}\r\n" for i in range(chapters))
    fields = dict(title=title, author=author, number=number, language=language, upper=title.upper())
    return PG_HEADER.format(**fields) + body + PG_FOOTER.format(**fields)


def test_gutenberg_strips_license_parses_header_and_splits_at_chapters(tmp_path):
    reader = GutenbergReader([write(tmp_path / "A Garland.txt", book())], source="pg", doc_chars=1200)
    docs = read(reader)
    assert [d.id for d in docs] == ["pg/5830/0", "pg/5830/1", "pg/5830/2"]
    assert [d.text.split("\n")[0] for d in docs] == ["CHAPTER I", "CHAPTER II", "CHAPTER III"]
    whole = "\n".join(d.text for d in docs)
    assert "Gutenberg" not in whole and "Produced by" not in whole and "\r" not in whole
    assert docs[0].metadata == {"source": "pg", "url": "https://www.gutenberg.org/ebooks/5830", "title": "A Garland",
                                "timestamp": None, "lang": "en", "author": "Louisa May Alcott",
                                "language": "English", "release_date": "June, 2004", "ebook_number": "5830"}
    assert accounted(reader, docs) and reader.skipped == {} and reader.errors == []
    # default doc_chars: the whole (small) book in one document
    assert len(read(GutenbergReader([tmp_path / "A Garland.txt"], source="pg"))) == 1


def test_gutenberg_unwraps_prose_and_keeps_verse_lines():
    prose = PROSE.replace("\r\n", "\n").strip()
    assert unwrap(prose) == " ".join(prose.split("\n"))
    verse = VERSE.replace("\r\n", "\n").strip()
    assert unwrap(verse) == verse  # indented, capitalised lines
    short = "I wandered lonely as a cloud\nThat floats on high o'er vales and hills,"
    assert unwrap(short) == short
    # a block longer than doc_chars with no blank line is cut at line breaks
    parts = split_book("\n".join([prose] * 40), doc_chars=2000)
    assert len(parts) > 4 and max(map(len, parts)) <= 2000 + 300


def test_gutenberg_old_small_print_marker_and_duplicate_ebook_numbers(tmp_path):
    old = ("The Project Gutenberg Etext of Crito, by Plato\n\n**Welcome To The World of Free Plain Vanilla "
           "Electronic Texts**\n\n***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN ETEXTS**START***\nWhy is this "
           "\"Small Print!\" statement here?  You know: lawyers.\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS"
           "*Ver.04.29.93*END*\n\n" + PROSE + "\nEnd of this Project Gutenberg Etext of Crito, by Plato\n")
    files = [write(tmp_path / "Crito.txt", old), write(tmp_path / "a.txt", book(number=2324)),
             write(tmp_path / "b.txt", book(title="Another", number=2324))]
    reader = GutenbergReader(files, source="pg")
    docs = read(reader)
    assert [d.id for d in docs] == ["pg/Crito/0", "pg/2324/0", "pg/2324-2/0"]
    assert docs[0].text == " ".join(PROSE.split()) and docs[0].metadata["title"] == "Crito"
    assert docs[0].metadata["author"] == "Plato" and docs[0].metadata["lang"] is None
    assert accounted(reader, docs) and str(files[2]) in reader.errors[0]


def test_gutenberg_book_without_markers_is_skipped(tmp_path):
    path = write(tmp_path / "nomarkers.txt", book().replace("*** START OF", "START OF"))
    reader = GutenbergReader([path, write(tmp_path / "ok.txt", book(number=1))], source="pg")
    docs = read(reader)
    assert [d.id for d in docs] == ["pg/1/0"]
    assert reader.skipped == {"no_gutenberg_markers": 1} and accounted(reader, docs)
    assert reader.errors[0].startswith(f"{path}: no Project Gutenberg start marker")


def test_non_english_book_takes_its_header_language(tmp_path):
    path = write(tmp_path / "corbeau.txt.xz", book(title="Le Corbeau", language="French"))
    reader = GutenbergReader([path], source="pg", lang="en")  # the source's lang: for books without one
    docs = read(reader)
    assert {d.metadata["lang"] for d in docs} == {"fr"} and docs[0].metadata["language"] == "French"
    assert accounted(reader, docs)
    assert [language_code(n) for n in ("German", "English and French", "Latin", "Martian")] == ["de", "en", "la", None]


def test_truncated_gutenberg_xz_is_skipped_with_an_error(tmp_path):
    rng = random.Random(1)
    body = " ".join("".join(rng.choice("abcdefgh") for _ in range(7)) for _ in range(60_000))
    data = lzma.compress(book().replace("CHAPTER I\r\n", body + "\r\n").encode())
    path = tmp_path / "cut.txt.xz"
    path.write_bytes(data[: len(data) // 2])
    reader = GutenbergReader([path, write(tmp_path / "ok.txt.bz2", book(number=1))], source="pg")
    docs = read(reader)
    assert {d.id.rsplit("/", 1)[0] for d in docs} == {"pg/1"}
    assert reader.skipped == {"truncated": 1} and accounted(reader, docs)
    assert reader.errors[0].startswith(f"{path}: cut short at uncompressed byte")


def test_gutenberg_zip_and_task_split(tmp_path):
    path = tmp_path / "5830.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("5830.txt", book(chapters=6))
    files = [path, write(tmp_path / "b.txt.gz", book(number=2, chapters=6))]
    whole = read(GutenbergReader(files, source="pg", doc_chars=1200))
    split = [read(GutenbergReader(files, source="pg", doc_chars=1200), rank, 2) for rank in range(2)]
    assert len(whole) == 12 and sorted(d.id for part in split for d in part) == sorted(d.id for d in whole)
    assert [len(part) for part in split] == [6, 6]  # a task converts whole books


# ------------------------------------------------------------------ text and JSON Lines

def test_text_files_one_document_per_file_or_line(tmp_path):
    (tmp_path / "sub").mkdir()
    files = [write(tmp_path / "a.txt.gz", "First file.\r\nSecond line.\n"),
             write(tmp_path / "sub" / "b.txt.xz", "B\n\n")]
    reader = TextReader(files, source="t")
    docs = read(reader)
    assert [(d.id, d.text) for d in docs] == [("t/a.txt", "First file.\nSecond line."), ("t/sub/b.txt", "B")]
    lines = TextReader(files, source="t", unit="line")
    docs = read(lines)
    assert [d.id for d in docs] == ["t/a.txt:1", "t/a.txt:2", "t/sub/b.txt:1"]
    assert lines.skipped == {"empty_text": 1} and accounted(lines, docs)


def test_jsonl_text_and_id_fields_metadata_and_compression(tmp_path):
    rows = [{"doc": "d1", "body": "Hello.", "url": "https://a.example/1", "lang": "fr"},
            {"doc": "d2", "body": "   "}, {"body": "No id.", "title": "T"}, {"doc": "d4", "body": 7}]
    path = write(tmp_path / "rows.jsonl.bz2", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    reader = JsonlReader([path], source="j", text_field="body", id_field="doc")
    docs = read(reader)
    assert [(d.id, d.text, d.metadata["lang"], d.metadata["title"]) for d in docs] == [
        ("j/d1", "Hello.", "fr", None), ("j/rows.jsonl:3", "No id.", None, "T")]
    assert docs[0].metadata["url"] == "https://a.example/1"
    assert reader.skipped == {"empty_text": 1, "non_string_text": 1} and accounted(reader, docs)


def test_jsonl_zst(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "a.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b'{"text": "one"}\n')
                     + zstandard.ZstdCompressor().compress(b'{"text": "two"}\n'))  # two frames
    assert [d.text for d in read(JsonlReader([path], source="j"))] == ["one", "two"]


def test_jsonl_line_that_is_not_json(tmp_path):
    path = write(tmp_path / "a.jsonl.gz", '{"text": "fine"}\n{"text": "cut\n[1, 2]\n')
    reader = JsonlReader([path], source="j")
    docs = read(reader)
    assert [d.text for d in docs] == ["fine"]
    assert reader.skipped == {"bad_json": 2} and accounted(reader, docs)
    assert reader.errors[0].startswith(f"{path}:2: not JSON (")
    assert reader.errors[1] == f"{path}:3: a JSON list, not an object"


def test_jsonl_text_field_missing_everywhere_is_an_error(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"content": "x", "id": 1}\n{"content": "y", "id": 2}\n')
    reader = JsonlReader([path], source="j")  # text_field "text"
    with pytest.raises(InputError) as err:
        read(reader)
    assert str(err.value) == f"{path}: no record has the text field 'text' (fields found: content, id); set text_field"
    assert reader.skipped == {"missing_text_field": 2} and accounted(reader, [])
    with pytest.raises(InputError, match=r"a\.jsonl: no record has the text field 'text'"):  # the stage, before work
        _preflight(Source(name="j", kind="jsonl", uri="*"), path)
    with pytest.raises(InputError, match="no record has the id field 'key'"):
        _preflight(Source(name="j", kind="jsonl", uri="*", text_field="content", id_field="key"), path)
    some = write(tmp_path / "b.jsonl", '{"text": "x"}\n{"content": "y"}\n')  # missing in some: counted
    reader = JsonlReader([some], source="j")
    docs = read(reader)
    assert len(docs) == 1 and reader.skipped == {"missing_text_field": 1} and accounted(reader, docs)


def test_source_options_are_checked_per_kind():
    build(Source, {"name": "j", "kind": "jsonl", "uri": "*.jsonl", "text_field": "body"})
    with pytest.raises(ConfigError, match="text_field: only for sources of kind jsonl"):
        build(Source, {"name": "t", "kind": "text", "uri": "*.txt", "text_field": "body"})
    with pytest.raises(ConfigError, match="unit: expected one of"):
        build(Source, {"name": "t", "kind": "text", "uri": "*.txt", "unit": "page"})
    with pytest.raises(ConfigError, match="doc_chars: 10 must be >= 1000"):
        build(Source, {"name": "g", "kind": "gutenberg", "uri": "*", "doc_chars": 10})


def test_stage_reads_the_new_kinds_with_two_workers(project, tmp_path):
    import pyarrow.parquet as pq

    from pipeline.ingest import Config, run

    root = tmp_path / "in"
    (root / "pg").mkdir(parents=True)
    for number in (1, 2, 3):
        language = "French" if number == 3 else "English"
        write(root / "pg" / f"{number}.txt.xz", book(number=number, chapters=4, language=language))
    write(root / "wiki_00.bz2", WIKI_TEXT)
    write(root / "rows.jsonl.gz", '{"text": "A row."}\nnot json\n{"text": "Another row."}\n')
    write(root / "notes.txt", "Some notes.")
    sources = [Source("pg", "gutenberg", "pg/*.txt.xz", doc_chars=1200), Source("wx", "wikiextractor", "wiki_*.bz2"),
               Source("rows", "jsonl", "*.jsonl.gz"), Source("notes", "text", "*.txt")]
    metrics = run(Config(data_root=str(root), sources=sources, workers=2, samples_per_source=1))
    m = metrics["sources"]
    assert {n: (s["records"], s["kept"], s["skipped"]) for n, s in m.items()} == {
        "pg": (12, 12, {}), "wx": (3, 2, {"empty_text": 1}), "rows": (3, 2, {"bad_json": 1}), "notes": (1, 1, {})}
    assert m["rows"]["errors"] == [f"{root / 'rows.jsonl.gz'}:2: not JSON (Expecting value: line 1 column 1 (char 0))"]
    table = pq.read_table(sorted((project / "data" / "docs").glob("*.parquet")))
    rows = {row["id"].rsplit("/", 1)[0]: row for row in table.to_pylist()}
    assert rows["pg/3"]["lang"] == "fr" and rows["pg/1"]["lang"] == "en"
    # the header's metadata reaches the shards as columns
    assert (rows["pg/1"]["title"], rows["pg/1"]["author"], rows["pg/1"]["ebook_number"]) == ("A Garland", "Louisa May Alcott", "1")
    assert rows["pg/1"]["release_date"] and all(r["author"] is None for k, r in rows.items() if not k.startswith("pg/"))


# ------------------------------------------------------------------ real corpora (slices)

def test_real_enwiki_wikiextractor_file(shared_data):
    path = shared_data / "wikipedia/extracted/enwiki-wikiextractor/AA/wiki_00.bz2"
    reader = WikiextractorReader([path], source="enwiki_wx", lang="en")
    docs = read(reader)
    assert reader.records_read == 1530 and len(docs) == 620 and reader.skipped == {"empty_text": 910}
    assert docs[0].id == "enwiki_wx/56564559" and docs[0].metadata["title"] == "Jarred Shaw"
    assert docs[0].text.startswith("Jarred Shaw (born September 28, 1990)")
    assert not any("&amp;" in d.text or d.text.startswith(d.metadata["title"] + "\n") for d in docs)


def test_real_wikinews_json_file(shared_data):
    path = shared_data / "wikinews/enwikinews-wikiextractor-json/AA/wiki_00.bz2"
    reader = WikiextractorReader([path], source="wikinews", lang="en")
    docs = read(reader)
    assert reader.records_read == 998 and len(docs) == 639 and reader.skipped == {"empty_text": 359}
    assert all(d.metadata["url"].startswith("https://en.wikinews.org/wiki?curid=") for d in docs)
    assert not any("&lt;" in d.text or "&quot;" in d.metadata["title"] for d in docs)


def test_real_gutenberg_books(shared_data):
    root = shared_data / "gutenberg"
    files = [root / "Poe, Edgar Allan/Le Corbeau = The Raven.txt.xz",  # French, per its header
             root / "Plato/Crito.txt.xz",  # 1990s small-print header
             root / "Shakespeare, William/Hamlet.txt.xz",  # World Library edition
             root / "Alcott, Louisa May/A Garland for Girls.txt.xz"]
    reader = GutenbergReader(files, source="gutenberg")
    docs = read(reader)
    assert accounted(reader, docs) and reader.skipped == {} and reader.errors == []
    by_book = {}
    for d in docs:
        by_book.setdefault(d.metadata["title"], []).append(d)
    assert by_book["Le Corbeau"][0].metadata["lang"] == "fr"
    assert by_book["Crito"][0].id == "gutenberg/1657/0"
    garland = by_book["A Garland for Girls"]
    assert len(garland) > 5 and max(len(d.text) for d in garland) < 25_000
    assert garland[0].text.startswith("A GARLAND FOR GIRLS") and garland[0].metadata["ebook_number"] == "5830"
    text = "\n".join(d.text for d in docs)
    assert "SMALL PRINT" not in text and "THIS ELECTRONIC VERSION" not in text and "Project Gutenberg" not in text
