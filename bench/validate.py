"""Validate at scale: the whole-frame gate against the batched stage, on a synthetic curated corpus.

Builds --docs documents of ~--chars characters (random words from the tests' vocabulary, all
distinct) in --shards parquet shards laid out as curate writes them (DOCS_SCHEMA, zstd, row
groups of 1,000: datatrove's ParquetWriter), then runs, each in a fresh subprocess:
    whole    the bare library: pandas reads and concatenates every shard, adds the content hash,
             and GX validates that one frame with the same 22 expectations (the stage before
             issue 15 item 8), Data Docs included
    batched  `pipeline.validate.run` with params.yaml's validate section (--batch-size: sizes to
             try on the whole corpus)
on the whole corpus and on a quarter of its shards (memory should grow with the corpus for the
first, and only by an id and a content hash per document for the second).
Peak RSS is each child's own getrusage(RUSAGE_SELF).ru_maxrss (what RUSAGE_CHILDREN reports to
its parent). Every run must pass all 22 expectations.

    python bench/validate.py [--docs 200000] [--chars 2000] [--shards 4] [--batch-size N ...]
Prints a markdown table and writes bench/results/validate.json.

    python bench/validate.py --corpus DIR [--name cpu1h]
runs both on a real curated directory instead (e.g. a cpu-1h run's data/curated) and writes
bench/results/validate_<name>.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import pipeline  # noqa: E402,F401  (offline, no GX analytics)
from pipeline.config import load_params, stage_config  # noqa: E402
from pipeline.validate import Config  # noqa: E402

RESULTS = REPO / "bench" / "results" / "validate.json"
ROW_GROUP = 1000  # datatrove ParquetWriter's default batch_size: curate's row groups (data/curated/docs)


def build_corpus(folder: Path, docs: int, chars: int, shards: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from curate_data import WORDS
    from pipeline.schema import DOCS_SCHEMA

    rng = random.Random(0)
    words = round(chars / 6.4)  # the vocabulary (curate_data.WORDS) averages 5.4 letters a word, plus a space
    folder.mkdir(parents=True)
    per_shard = -(-docs // shards)
    for s in range(shards):
        ids = range(s * per_shard, min(docs, (s + 1) * per_shard))
        rows = {"id": [f"bench/{i}" for i in ids], "text": [" ".join(rng.choices(WORDS, k=words)) + "." for _ in ids],
                "source": ["bench"] * len(ids), "url": [f"https://site{i}.org/p" for i in ids],
                "lang": ["en"] * len(ids)}
        table = pa.table({f.name: rows.get(f.name, [None] * len(ids)) for f in DOCS_SCHEMA}, schema=DOCS_SCHEMA)
        pq.write_table(table, folder / f"000_{s:05d}.parquet", row_group_size=ROW_GROUP, compression="zstd")


def whole(cfg: Config) -> dict:
    """The bare library on one frame of the whole corpus."""
    import great_expectations as gx
    import pandas as pd
    from pipeline.curate.normalize import content_hash
    from pipeline.validate.suite import corpus_suite, rows_suite

    shards = sorted((Path(cfg.curated) / "docs").glob("*.parquet"))
    df = pd.concat([pd.read_parquet(p) for p in shards], ignore_index=True)
    df["content_hash"] = df["text"].map(content_hash)
    context = gx.get_context(mode="file", project_root_dir=cfg.validation)
    asset = context.data_sources.add_pandas("curated").add_dataframe_asset("docs")
    batch = asset.add_batch_definition_whole_dataframe("all")
    expectations = [*rows_suite("r", cfg.languages, cfg.min_chars, cfg.max_chars).expectations,
                    *corpus_suite("c", cfg.min_rows).expectations]
    suite = context.suites.add(gx.ExpectationSuite(name="curated_docs", expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="curated_docs", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name="curated_docs", validation_definitions=[definition], result_format="SUMMARY",
        actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")] if cfg.data_docs else []))
    (result,) = checkpoint.run(batch_parameters={"dataframe": df}).run_results.values()
    stats = result.statistics
    return {"success": result.success, "documents": len(df), "expectations": stats["evaluated_expectations"]}


def batched(cfg: Config) -> dict:
    from pipeline import validate

    metrics = validate.run(cfg)
    return {k: metrics[k] for k in ("success", "documents", "expectations")}


def child(mode: str, cfg_json: str) -> None:
    cfg = Config(**json.loads(cfg_json))
    out = {"whole": whole, "batched": batched}[mode](cfg)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(out))


def measure(mode: str, cfg: Config) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", mode, json.dumps(dataclasses.asdict(cfg))],
                          capture_output=True, text=True, check=True)
    return {"mode": mode, "batch_size": cfg.batch_size if mode == "batched" else None,
            "wall_s": round(time.perf_counter() - start, 1), **json.loads(proc.stdout.splitlines()[-1])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--chars", type=int, default=2000)
    ap.add_argument("--shards", type=int, default=4)  # 50k docs each: batches below the shard size
    ap.add_argument("--batch-size", type=int, nargs="*", help="batched runs (default: params.yaml's)")
    ap.add_argument("--corpus", type=Path, help="a curated directory (with docs/) to validate instead")
    ap.add_argument("--name", default="corpus", help="with --corpus: bench/results/validate_<name>.json")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)

    base = stage_config("validate", Config, load_params(REPO / "params.yaml", {"profile": "default"}))
    if args.corpus:
        return real_corpus(base, args.corpus.resolve(), args.name)
    work = Path(tempfile.mkdtemp(prefix="bench_validate_"))
    start = time.perf_counter()
    build_corpus(work / "curated" / "docs", args.docs, args.chars, args.shards)
    build_s = time.perf_counter() - start
    corpus_mb = sum(p.stat().st_size for p in (work / "curated" / "docs").glob("*.parquet")) / 2**20
    # A quarter of the shards too: the whole frame grows with the corpus, the batched stage should not.
    (work / "quarter" / "docs").mkdir(parents=True)
    for shard in sorted((work / "curated" / "docs").glob("*.parquet"))[:max(1, args.shards // 4)]:
        (work / "quarter" / "docs" / shard.name).symlink_to(shard)
    runs = []
    for corpus in ("quarter", "curated"):
        cfg = dataclasses.replace(base, curated=str(work / corpus))
        runs.append(measure("whole", dataclasses.replace(cfg, validation=str(work / f"whole_{corpus}"))))
        for size in args.batch_size if corpus == "curated" and args.batch_size else [base.batch_size]:
            runs.append(measure("batched", dataclasses.replace(cfg, batch_size=size,
                                                               validation=str(work / f"batched_{corpus}_{size}"))))
    shutil.rmtree(work)
    assert all(r["success"] and r["expectations"] == runs[0]["expectations"] for r in runs), runs

    print(f"\n{args.docs:,} docs of ~{args.chars:,} chars in {args.shards} shards ({corpus_mb:.0f} MB of zstd parquet, "
          f"built in {build_s:.0f} s)\n")
    print("| run | docs | batch rows | wall s | peak RSS MB |\n|---|---:|---:|---:|---:|")
    for r in runs:
        print(f"| {r['mode']} | {r['documents']:,} | {r['batch_size'] or 'all'} | {r['wall_s']} "
              f"| {r['peak_rss_mb']:,.0f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"docs": args.docs, "chars": args.chars, "shards": args.shards,
                                   "corpus_mb": round(corpus_mb, 1), "runs": runs}, indent=2) + "\n")


def real_corpus(base: Config, curated: Path, name: str) -> None:
    shards = sorted((curated / "docs").glob("*.parquet"))
    corpus_mb = sum(p.stat().st_size for p in shards) / 2**20
    with tempfile.TemporaryDirectory(prefix="bench_validate_") as work:
        cfg = dataclasses.replace(base, curated=str(curated))
        runs = [measure("whole", dataclasses.replace(cfg, validation=f"{work}/whole")),
                measure("batched", dataclasses.replace(cfg, validation=f"{work}/batched"))]
    assert all(r["success"] for r in runs), runs
    print(f"\n{curated}: {len(shards)} shards, {corpus_mb:.0f} MB of zstd parquet\n")
    print("| run | docs | batch rows | wall s | peak RSS MB |\n|---|---:|---:|---:|---:|")
    for r in runs:
        print(f"| {r['mode']} | {r['documents']:,} | {r['batch_size'] or 'all'} | {r['wall_s']} "
              f"| {r['peak_rss_mb']:,.0f} |")
    out = RESULTS.with_name(f"validate_{name}.json")
    out.write_text(json.dumps({"corpus": name, "shards": len(shards), "corpus_mb": round(corpus_mb, 1),
                               "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
