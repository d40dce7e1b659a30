"""Per-source curate recipes, measured: what each filter rule removes from books and
encyclopedic text under the base (FineWeb, web-page) settings and under params.yaml's
`curate.recipes`. Not a timed test.

Corpora, read with the ingest readers the pipeline uses, under the source names the recipes
match (enwiki and enwiki_leads as in params.yaml's ingest; gutenberg, wiki_extract, wikinews
for the new readers):
    gutenberg     --books books of ../shared/data/gutenberg (one per author, authors drawn with
                  --seed), cut into ~20,000-char documents by the gutenberg reader
    wiki_extract  the first --wiki-files files of the wikiextractor output of English Wikipedia
    wikinews      the first --news-files files of English Wikinews (wikiextractor --json)
    enwiki_leads  the Wikipedia leads parquet; enwiki  the pages-articles dump excerpt
Both runs go through `pipeline.curate.run` with params.yaml's curate settings, on the same
documents; they differ only in `recipes` (none, then params.yaml's). Off in both: dedup and
decontamination (across all sources) and PII (no quality judgement), which recipes do not
change, and the URL filter (no recipe changes it; these URLs are wikipedia.org, wikinews.org,
gutenberg.org; it costs ~15 s of list loading). As in the funnel, a document counts under the
first rule that removes it.

    python bench/curate_recipes.py [--books 40] [--wiki-files 4] [--news-files 4] [--workers 2]
Writes bench/results/curate_recipes.json (the table, plus for every source and rule a few
removed documents, and documents the recipe keeps that the base removed, to read) and prints
a markdown table: per rule (step: reason) and source, documents / thousand characters removed,
base -> recipe. About 3 minutes on 2 free cores.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# datatrove's forkserver workers re-import this module: they must find the parent's scratch dir.
if "BENCH_RECIPES_WORK" not in os.environ:
    os.environ["BENCH_RECIPES_WORK"] = tempfile.mkdtemp(prefix="bench_recipes_")
WORK = Path(os.environ["BENCH_RECIPES_WORK"])
os.environ["LMPIPE_ROOT"] = str(WORK)  # plots/ and metrics of the runs go to the scratch root

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import pipeline  # noqa: E402,F401
from pipeline.config import load_params, stage_config  # noqa: E402
from pipeline.curate import Config, run as curate_run  # noqa: E402
from pipeline.curate.config import recipe_for  # noqa: E402
from pipeline.curate.io import DOC_SCHEMA  # noqa: E402

DATA = Path(os.environ.get("LMPIPE_DATA") or REPO.parent / "shared" / "data")
PARAMS = REPO / "params.yaml"
LID = str(REPO / ".cache" / "lid" / "lid.176.ftz")  # fetched by `python -m pipeline.curate.lid`
SAMPLES = 3         # removed documents kept per source and rule, to read
SAMPLE_CHARS = 300  # of each, from its start


def read_corpora(books: int, wiki_files: int, news_files: int, seed: int) -> list[dict]:
    from pipeline.ingest.gutenberg import GutenbergReader
    from pipeline.ingest.readers import WikipediaParquetReader, WikipediaXmlReader
    from pipeline.ingest.wikiextractor import WikiextractorReader

    rng = random.Random(seed)
    authors = sorted(p for p in (DATA / "gutenberg").iterdir() if p.is_dir())
    book_files = [str(rng.choice(sorted(a.glob("*.txt.xz")))) for a in rng.sample(authors, min(books, len(authors)))]
    wiki = sorted(str(p) for p in (DATA / "wikipedia/extracted/enwiki-wikiextractor").glob("*/wiki_*.bz2"))
    news = sorted(str(p) for p in (DATA / "wikinews/enwikinews-wikiextractor-json").glob("*/wiki_*.bz2"))
    readers = [
        GutenbergReader(sorted(book_files), source="gutenberg"),
        WikiextractorReader(wiki[:wiki_files], source="wiki_extract"),
        WikiextractorReader(news[:news_files], source="wikinews"),
        WikipediaParquetReader([str(DATA / "wikipedia/leads/en-leads.parquet")], source="enwiki_leads"),
        WikipediaXmlReader([str(DATA / "wikipedia/enwiki-latest-pages-articles1.xml-p000000010p000030302-"
                                       "shortened.bz2")], source="enwiki"),
    ]
    return [{"id": d.id, "text": d.text, **{k: d.metadata.get(k) for k in DOC_SCHEMA.names[2:]}}
            for reader in readers for d in reader.run()]


def write_docs(rows: list[dict], folder: Path) -> None:
    folder.mkdir(parents=True)
    half = len(rows) // 2  # two shards, as ingest writes one per task
    for i, part in enumerate((rows[:half], rows[half:])):
        pq.write_table(pa.table({c: pa.array([r[c] for r in part], pa.string()) for c in DOC_SCHEMA.names}),
                       folder / f"part-{i}.parquet")


def curate(docs: Path, name: str, recipes: dict, workers: int) -> dict:
    """One curate run with params.yaml's settings and `recipes`; per source: docs/chars in and
    kept, and removed by rule ("step: reason") with a few samples."""
    section = load_params(PARAMS)["curate"]
    section.update(executor={"tasks": workers, "workers": workers}, recipes=recipes, lid={**section["lid"], "model": LID},
                   url_filter={"enabled": False}, pii={"enabled": False}, exact_dedup={"enabled": False},
                   minhash={"enabled": False}, decontaminate={"enabled": False})
    params = {"data_root": str(DATA), "paths": {"docs": str(docs), "curated": str(WORK / name)}, "curate": section}
    cfg: Config = stage_config("curate", Config, params)
    start = time.perf_counter()
    metrics = curate_run(cfg)
    seconds = time.perf_counter() - start
    out = WORK / name
    per_source: dict = defaultdict(lambda: {"docs_in": 0, "chars_in": 0, "docs_kept": 0, "chars_kept": 0,
                                            "removed": defaultdict(lambda: {"docs": 0, "chars": 0, "samples": []})})
    for row in _rows(docs, ["source", "text"]):
        per_source[row["source"]]["docs_in"] += 1
        per_source[row["source"]]["chars_in"] += len(row["text"])
    for row in _rows(out / "docs", ["source", "text"]):
        per_source[row["source"]]["docs_kept"] += 1
        per_source[row["source"]]["chars_kept"] += len(row["text"])
    removed_ids = {}
    for step in metrics["steps"]:
        for row in _rows(out / "removed" / step, ["id", "source", "title", "text", "reason"]):
            rule = per_source[row["source"]]["removed"][f"{step}: {row['reason']}"]
            rule["docs"] += 1
            rule["chars"] += len(row["text"])
            if len(rule["samples"]) < SAMPLES:
                rule["samples"].append(_sample(row))
            removed_ids[row["id"]] = f"{step}: {row['reason']}"
    return {"seconds": round(seconds, 1), "sources": per_source, "removed_ids": removed_ids,
            "recipe_of": {s: recipe_for(cfg.recipes, s) for s in per_source}}


def _rows(folder: Path, columns: list[str]):
    for path in sorted(folder.glob("*.parquet")):
        yield from pq.read_table(path, columns=columns).to_pylist()


def _sample(row: dict) -> dict:
    return {"id": row["id"], "title": row.get("title"), "chars": len(row["text"]), "text": row["text"][:SAMPLE_CHARS]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, default=40, help="Gutenberg books, one per author (98 authors)")
    parser.add_argument("--wiki-files", type=int, default=4, help="wikiextractor files of ~1 MB (64)")
    parser.add_argument("--news-files", type=int, default=4, help="Wikinews files of ~1 MB (41)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    start = time.perf_counter()
    rows = read_corpora(args.books, args.wiki_files, args.news_files, args.seed)
    read_s = time.perf_counter() - start
    write_docs(rows, WORK / "docs")
    recipes = load_params(PARAMS)["curate"].get("recipes") or {}
    base = curate(WORK / "docs", "base", {}, args.workers)
    ours = curate(WORK / "docs", "recipes", recipes, args.workers)

    texts = {r["id"]: r for r in rows}
    result = {"args": vars(args), "read_s": round(read_s, 1), "seconds": {"base": base["seconds"],
                                                                         "recipes": ours["seconds"]},
              "sources": {}}
    for source in sorted(base["sources"]):
        b, o = base["sources"][source], ours["sources"][source]
        # documents the recipe keeps that the base removed (and the reverse), by the base's rule
        rescued = Counter(rule for i, rule in base["removed_ids"].items()
                          if i not in ours["removed_ids"] and texts[i]["source"] == source)
        dropped = Counter(rule for i, rule in ours["removed_ids"].items()
                          if i not in base["removed_ids"] and texts[i]["source"] == source)
        rescued_samples = [{**_sample(texts[i]), "base_rule": rule} for i, rule in sorted(base["removed_ids"].items())
                           if i not in ours["removed_ids"] and texts[i]["source"] == source]
        random.Random(0).shuffle(rescued_samples)
        result["sources"][source] = {
            "recipe": ours["recipe_of"][source], "docs_in": b["docs_in"], "chars_in": b["chars_in"],
            "kept": {"base": {"docs": b["docs_kept"], "chars": b["chars_kept"]},
                     "recipes": {"docs": o["docs_kept"], "chars": o["chars_kept"]}},
            "removed": {rule: {"base": _counts(b["removed"].get(rule)), "recipes": _counts(o["removed"].get(rule))}
                        for rule in sorted(set(b["removed"]) | set(o["removed"]))},
            "removed_samples": {rule: v["samples"] for rule, v in sorted(o["removed"].items())},
            "base_removed_samples": {rule: v["samples"] for rule, v in sorted(b["removed"].items())},
            "rescued_by_base_rule": dict(rescued.most_common()), "newly_removed_by_rule": dict(dropped.most_common()),
            "rescued_samples": rescued_samples[:10],
        }
    out = REPO / "bench" / "results" / "curate_recipes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(table(result))


def _counts(rule: dict | None) -> dict:
    return {"docs": rule["docs"], "chars": rule["chars"]} if rule else {"docs": 0, "chars": 0}


def table(r: dict) -> str:
    sources = list(r["sources"])
    recipe = {s: r["sources"][s]["recipe"] or "base" for s in sources}
    lines = [f"curate, base settings -> per-source recipes (params.yaml); run time {r['seconds']['base']} s -> "
             f"{r['seconds']['recipes']} s on {r['args']['workers']} workers", "",
             "docs removed / thousand chars removed, base -> recipe", "",
             "| rule | " + " | ".join(f"{s} ({recipe[s]})" for s in sources) + " |",
             "|---|" + "---|" * len(sources)]
    rules = sorted({rule for s in sources for rule in r["sources"][s]["removed"]})
    for rule in rules:
        cells = []
        for s in sources:
            c = r["sources"][s]["removed"].get(rule)
            if c is None:
                cells.append("")
                continue
            b, o = c["base"], c["recipes"]
            cells.append(f"{b['docs']} / {b['chars'] // 1000} -> {o['docs']} / {o['chars'] // 1000}")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    for what in ("docs", "chars"):
        cells = []
        for s in sources:
            v = r["sources"][s]
            total = v["docs_in"] if what == "docs" else v["chars_in"]
            b, o = v["kept"]["base"][what], v["kept"]["recipes"][what]
            cells.append(f"{b / total:.1%} -> {o / total:.1%} of {total if what == 'docs' else f'{total / 1e6:.1f} M'}")
        lines.append(f"| **{what} kept** | " + " | ".join(cells) + " |")
    lines += ["", "chars kept include what C4's line rules trim from kept documents "
              "(a removed document's chars are counted as the step that removed it saw them)"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
