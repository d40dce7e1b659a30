"""Ingest throughput: HTML extraction (trafilatura vs Resiliparse) on the webdocs pages, and the
whole ingest stage per source on the default profile.

1. Extraction, one core: a uniform sample of the webdocs pages (every k-th response record, via
   the reader's task split) decoded by WarcHtmlReader, then each extractor called directly, and
   through datatrove's sandboxed step as ingest runs it.
2. The stage: `run` on the default profile's sources in a scratch project (2 workers), once with
   the profile's extractors, and with `--trafilatura-stage` once more with trafilatura on webdocs.
3. The file-format readers (wikiextractor text and --json, gutenberg, jsonl, text), one task, on
   a slice of the real corpora, against a bare loop doing the same decompress-and-parse with no
   reader around it (the best of 3 runs each); the ratio reader / bare throughput is the cost of
   the reader (accounting, datatrove Documents and stats, header peeks). With `--full`, each
   corpus is also read whole once.

Prints a table and writes bench/results/ingest.json (`--part formats` updates only its entry).
Usage:
    python bench/ingest.py [--sample 400] [--trafilatura-stage] [--part all|extraction|formats] [--full]
"""
from __future__ import annotations

import argparse
import bz2
import gzip
import html
import json
import lzma
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import shared_data_dir  # noqa: E402
from datatrove.data import Document  # noqa: E402

from pipeline.config import load_params, stage_config  # noqa: E402
from pipeline.ingest import Config, run  # noqa: E402
from pipeline.ingest.extractors import make_extractor  # noqa: E402
from pipeline.ingest.gutenberg import DOC_CHARS, GutenbergReader, split_book  # noqa: E402
from pipeline.ingest.readers import WarcHtmlReader  # noqa: E402
from pipeline.ingest.textfiles import JsonlReader, TextReader  # noqa: E402
from pipeline.ingest.wikiextractor import WikiextractorReader  # noqa: E402

WEBDOCS_RESPONSES = 5631  # README of the shared data


def sample_pages(data: Path, sample: int) -> tuple[list[str], float]:
    """Decoded HTML of every k-th webdocs response, and the seconds reading them took."""
    stride = max(1, WEBDOCS_RESPONSES // sample)
    reader = WarcHtmlReader(sorted((data / "webdocs").glob("*.warc.gz")), source="webdocs")
    start = time.perf_counter()
    pages = [doc.text for doc in reader.run(None, rank=0, world_size=stride)]
    return pages, time.perf_counter() - start


def extraction(pages: list[str], name: str) -> dict:
    extractor = make_extractor(name, timeout=60)
    start = time.perf_counter()
    texts = [extractor.extract(page) or "" for page in pages]
    direct = time.perf_counter() - start
    start = time.perf_counter()  # the step rewrites doc.text: fresh Documents
    kept = sum(1 for _ in extractor.run(Document(text=page, id=str(i)) for i, page in enumerate(pages)))
    sandboxed = time.perf_counter() - start
    return {"extractor": name, "pages": len(pages), "docs_per_s_core": round(len(pages) / direct, 1),
            "docs_per_s_core_sandboxed": round(len(pages) / sandboxed, 1), "kept": kept,
            "mean_chars": round(sum(map(len, texts)) / len(texts)),
            "html_kb": round(sum(map(len, pages)) / len(pages) / 1000, 1)}


def stage(data: Path, webdocs_extractor: str | None) -> dict:
    cfg = stage_config("ingest", Config, {**load_params(REPO / "params.yaml"), "data_root": str(data)})
    for source in cfg.sources:
        if source.name == "webdocs" and webdocs_extractor:
            source.extractor = webdocs_extractor
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LMPIPE_ROOT"] = tmp
        start = time.perf_counter()
        metrics = run(cfg)
        wall = time.perf_counter() - start
    return {"webdocs_extractor": next(s.extractor for s in cfg.sources if s.name == "webdocs"),
            "wall_s": round(wall, 1), "docs": metrics["docs"],
            "sources": {n: {k: m[k] for k in ("records", "kept", "seconds", "docs_per_s")}
                        for n, m in metrics["sources"].items()}}


# ---------------------------------------------------------------- 3. the file-format readers
# Slices: a quarter of each wiki corpus (16 of 64 and 10 of 41 files, ~17 and ~10 MB of text),
# the first 100 books (~40 MB), all of Multi30K train (en + de, 58,000 lines).
WIKI_FILES, NEWS_FILES, BOOKS = 16, 10, 100


def bare_wikiextractor_text(files) -> int:
    docs = 0
    for path in files:
        for block in bz2.decompress(Path(path).read_bytes()).split(b"</doc>\n"):
            header, _, body = block.lstrip().partition(b"\n")
            if not header:
                continue
            title = re.search(rb'title="([^"]*)"', header).group(1).decode()
            text = body.decode().removeprefix(title + "\n")
            docs += bool(html.unescape(text).strip())
    return docs


def bare_wikiextractor_json(files) -> int:
    docs = 0
    for path in files:
        for line in bz2.decompress(Path(path).read_bytes()).splitlines():
            obj = json.loads(line)
            docs += bool(html.unescape(obj["text"]).strip())
    return docs


def bare_jsonl(files) -> int:
    return sum(bool(json.loads(line)["text"].strip())
               for path in files for line in bz2.decompress(Path(path).read_bytes()).splitlines())


def bare_text_lines(files) -> int:
    return sum(bool(line.decode().strip()) for path in files
               for line in gzip.decompress(Path(path).read_bytes()).split(b"\n"))


START = re.compile(r"^\*{3} ?START OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
END = re.compile(r"^\*{3} ?END OF (?:THE|THIS) PROJECT GUTENBERG", re.M | re.I)


def bare_gutenberg(files, split: bool = False) -> int:
    """Decompress, decode, CRLF -> LF and the marker strip; with `split`, also the reader's own
    unwrapping and cutting into parts (what is left is the reader's overhead: header peek,
    Documents, accounting)."""
    books = 0
    for path in files:
        text = lzma.decompress(Path(path).read_bytes()).decode("utf-8", "replace").replace("\r\n", "\n")
        if start := START.search(text):
            end = END.search(text, start.end())
            body = text[start.end(): end.start() if end else None]
            books += len(split_book(body, DOC_CHARS)) if split else bool(body.strip())
    return books


def _best(fn, runs: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def format_readers(data: Path, full: bool) -> list[dict]:
    wiki = sorted((data / "wikipedia/extracted/enwiki-wikiextractor/AA").glob("wiki_*.bz2"))
    news = sorted((data / "wikinews/enwikinews-wikiextractor-json/AA").glob("wiki_*.bz2"))
    books = sorted((data / "gutenberg").glob("*/*.txt.xz"))
    lines = [data / f"translation/multi30k/task1/raw/train.{lang}.gz" for lang in ("en", "de")]
    cases = [  # name, reader for the files, the files, bare loop, how to size the input
        ("wikiextractor text", lambda f: WikiextractorReader(f, source="enwiki_wx"), wiki, WIKI_FILES,
         bare_wikiextractor_text, bz2.decompress),
        ("wikiextractor json", lambda f: WikiextractorReader(f, source="wikinews"), news, NEWS_FILES,
         bare_wikiextractor_json, bz2.decompress),
        ("jsonl", lambda f: JsonlReader(f, source="wikinews", id_field="id"), news, NEWS_FILES, bare_jsonl,
         bz2.decompress),
        ("text (lines)", lambda f: TextReader(f, source="multi30k", unit="line"), lines, len(lines),
         bare_text_lines, gzip.decompress),
        ("gutenberg", lambda f: GutenbergReader(f, source="gutenberg"), books, BOOKS, bare_gutenberg,
         lzma.decompress),
        ("gutenberg vs +split", lambda f: GutenbergReader(f, source="gutenberg"), books, BOOKS,
         lambda f: bare_gutenberg(f, split=True), lzma.decompress),
    ]
    results = []
    for name, make, files, n, bare, decompress in cases:
        part = files[:n]
        mb = sum(len(decompress(p.read_bytes())) for p in part) / 1e6
        reader_s, docs = _best(lambda: sum(1 for _ in make(part).run()))
        bare_s, _ = _best(lambda: bare(part))
        row = {"reader": name, "files": len(part), "mb": round(mb, 1), "docs": docs,
               "reader_mb_s": round(mb / reader_s, 1), "bare_mb_s": round(mb / bare_s, 1),
               "ratio": round(bare_s / reader_s, 2)}
        if full and not name.endswith("+split"):
            reader = make(files)
            start = time.perf_counter()
            docs = sum(1 for _ in reader.run())
            row["full"] = {"files": len(files), "seconds": round(time.perf_counter() - start, 1),
                           "records": reader.records_read, "docs": docs, "skipped": dict(reader.skipped),
                           "errors": len(reader.errors)}
        results.append(row)
    return results


def print_formats(rows: list[dict]) -> None:
    print(f"\n{'reader (1 task)':<20}{'files':>6}{'MB':>7}{'docs':>8}{'reader MB/s':>13}{'bare MB/s':>11}{'ratio':>7}")
    for r in rows:
        print(f"{r['reader']:<20}{r['files']:>6}{r['mb']:>7}{r['docs']:>8}{r['reader_mb_s']:>13}{r['bare_mb_s']:>11}"
              f"{r['ratio']:>7}")
    for r in rows:
        if full := r.get("full"):
            print(f"full read, {r['reader']}: {full['files']} files, {full['seconds']} s, {full['records']} records "
                  f"-> {full['docs']} docs; skipped {full['skipped'] or 'none'}; {full['errors']} errors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=400, help="webdocs pages for the extractor comparison")
    parser.add_argument("--trafilatura-stage", action="store_true",
                        help="also run the whole stage with trafilatura on webdocs (minutes)")
    parser.add_argument("--part", choices=("all", "extraction", "formats"), default="all",
                        help="extraction: parts 1 and 2; formats: part 3")
    parser.add_argument("--full", action="store_true", help="formats: also read each corpus whole once")
    args = parser.parse_args()
    data = shared_data_dir()
    out = REPO / "bench" / "results" / "ingest.json"
    result = json.loads(out.read_text()) if out.exists() and args.part != "all" else {}
    result["cpus"] = os.cpu_count()
    if args.part in ("all", "formats"):
        result["formats"] = format_readers(data, args.full)
        print_formats(result["formats"])
    if args.part in ("all", "extraction"):
        result.update(extraction_and_stage(data, args))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def extraction_and_stage(data: Path, args) -> dict:
    pages, read_s = sample_pages(data, args.sample)
    result = {"sample_pages": len(pages), "read_all_webdocs_s": round(read_s, 2),
              "extraction": [extraction(pages, name) for name in ("resiliparse", "trafilatura")],
              "stage": [stage(data, None)] + ([stage(data, "trafilatura")] if args.trafilatura_stage else [])}

    print(f"webdocs sample: {len(pages)} pages; one task reads all {WEBDOCS_RESPONSES} records and decodes "
          f"its share in {result['read_all_webdocs_s']} s")
    print(f"{'extractor':<14}{'docs/s/core':>12}{'sandboxed':>11}{'kept':>6}{'chars/doc':>11}")
    for e in result["extraction"]:
        print(f"{e['extractor']:<14}{e['docs_per_s_core']:>12}{e['docs_per_s_core_sandboxed']:>11}"
              f"{e['kept']:>6}{e['mean_chars']:>11}")
    for s in result["stage"]:
        print(f"\ningest stage, default profile, webdocs via {s['webdocs_extractor']}: {s['wall_s']} s, "
              f"{s['docs']} docs")
        print(f"{'source':<14}{'records':>9}{'kept':>8}{'seconds':>9}{'docs/s':>9}")
        for name, m in s["sources"].items():
            print(f"{name:<14}{m['records']:>9}{m['kept']:>8}{m['seconds']:>9}{m['docs_per_s'] or '-':>9}")
    return result


if __name__ == "__main__":
    main()
