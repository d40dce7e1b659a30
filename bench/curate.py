"""Curate benchmark on the webdocs WARCs (../shared/data/webdocs): not a timed test.

1. Extraction: the first --extract-limit HTML responses with trafilatura and with Resiliparse,
   one process each (docs/s/core).
2. Curation: the first --limit responses, extracted with Resiliparse (the default profile's
   extractor), through `pipeline.curate.run` (ours) and through a bare datatrove pipeline
   doing the same steps with stock classes (FineWeb example style: JSONL exclusion writers,
   datatrove's own word tokenizer), on the same executor settings. Both must keep the same
   documents; the ratio is bare wall time / ours (goal >= 0.95).
3. Re-crawls: documents whose extracted text is identical to another's; after curation no two
   copies may remain.

    python bench/curate.py [--limit 2000] [--extract-limit 200] [--workers 2]
Writes bench/results/curate.json and prints a markdown table (paste into bench/README.md).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# datatrove's forkserver workers re-import this module: they must find the parent's scratch dir.
if "BENCH_CURATE_WORK" not in os.environ:
    os.environ["BENCH_CURATE_WORK"] = tempfile.mkdtemp(prefix="bench_curate_")
WORK = Path(os.environ["BENCH_CURATE_WORK"])
# Outputs (plots/, metrics) of ours go to the scratch root, not the checkout; the bare run's
# datatrove asset cache (lid model, URL lists) too.
os.environ["LMPIPE_ROOT"] = str(WORK)
os.environ["HF_ASSETS_CACHE"] = str(WORK / "assets")

import psutil  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import pipeline  # noqa: E402,F401
from pipeline.config import build  # noqa: E402
from pipeline.curate import Config, run as curate_run  # noqa: E402
from pipeline.curate.lid import ensure_model  # noqa: E402
from pipeline.curate.normalize import content_hash  # noqa: E402
from pipeline.ingest.extractors import make_extractor  # noqa: E402
from pipeline.ingest.readers import WarcHtmlReader  # noqa: E402

DATA = Path(os.environ.get("LMPIPE_DATA") or REPO.parent / "shared" / "data")
WARCS = sorted(str(p) for p in (DATA / "webdocs").glob("*.warc.gz"))
STEPS = ["length", "url_filter", "lid", "gopher_repetition", "gopher_quality", "c4", "c4_badwords", "fineweb_quality",
         "pii", "exact_dedup", "minhash_dedup", "decontaminate"]


class PeakRSS:
    """Peak resident memory of this process and all its descendants (sampled every 0.1 s)."""

    def __enter__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        me = psutil.Process()
        while not self._stop.wait(0.1):
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> int:
        return self.peak >> 20


def extract(name: str, limit: int) -> tuple[list[dict], float]:
    reader = WarcHtmlReader(WARCS, source="webdocs", limit=limit)
    start = time.perf_counter()
    docs = list(make_extractor(name, timeout=10)(reader.run()))
    seconds = time.perf_counter() - start
    rows = [{"id": d.id, "text": d.text, **{k: d.metadata.get(k) for k in ("source", "url", "title", "timestamp",
                                                                          "lang")}} for d in docs]
    return rows, seconds


def write_docs(rows: list[dict], folder: Path) -> None:
    folder.mkdir(parents=True)
    cols = ["id", "text", "source", "url", "title", "timestamp", "lang"]
    half = len(rows) // 2  # two shards, as ingest writes one per task
    for i, part in enumerate((rows[:half], rows[half:])):
        pq.write_table(pa.table({c: pa.array([r[c] for r in part], pa.string()) for c in cols}),
                       folder / f"part-{i}.parquet")


def run_ours(docs: Path, workers: int, lid_model: str) -> dict:
    cfg = build(Config, {"docs": str(docs), "curated": str(WORK / "ours"), "data_root": str(DATA),
                         "executor": {"tasks": workers, "workers": workers}, "lid": {"model": lid_model}},
                prefix="curate")
    start = time.perf_counter()
    with PeakRSS() as mem:
        metrics = curate_run(cfg)
    return {"wall_s": time.perf_counter() - start, "peak_rss_mib": mem.mib, "metrics": metrics}


def run_bare(docs: Path, workers: int, lid_model: str) -> dict:
    """Stock datatrove classes, configured only as far as running offline requires."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.io import strip_protocol
    from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter
    from datatrove.pipeline.dedup import (ExactDedupFilter, ExactDedupSignature, ExactFindDedups,
                                          MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                          MinhashDedupSignature)
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import (C4BadWordsFilter, C4QualityFilter, FineWebQualityFilter,
                                            GopherQualityFilter, GopherRepetitionFilter, LanguageFilter, URLFilter)
    from datatrove.pipeline.filters.c4_filters import _EN_BADWORDS_URL
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader, ParquetReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.lid import FT176LID
    from huggingface_hub import cached_assets_path
    from tldextract import TLDExtract

    from pipeline.curate.config import DecontConfig
    from pipeline.curate.decont import GlueDecontIndexer, glue_files
    from pipeline.curate.normalize import content_key

    # offline: the lid model and the bad-words list where datatrove would have downloaded them
    # (a `.completed` marker beside a file in its asset cache skips the download); tldextract's snapshot
    for namespace, subfolder, url, local in (
            ("lid", "ft176", FT176LID.MODEL_URL, Path(lid_model)),
            ("filters", "c4_badwords", _EN_BADWORDS_URL, DATA / "badwords" / "ldnoobw" / "en")):
        asset_dir = cached_assets_path(library_name="datatrove", namespace=namespace, subfolder=subfolder)
        target = Path(asset_dir) / strip_protocol(url).replace("/", "_")
        target.write_bytes(local.read_bytes())
        Path(f"{target}.completed").touch()
    url_filter = URLFilter(exclusion_writer=JsonlWriter(str(WORK / "bare/removed/url")))
    url_filter.tldextractor = TLDExtract(suffix_list_urls=())

    base = WORK / "bare"

    def removed(step):
        return JsonlWriter(str(base / "removed" / step))

    mh_cfg = MinhashConfig()
    exact_cfg = ExactDedupConfig(content_getter=content_key)
    d_cfg = NGramsDecontConfig(n_grams=13)
    glue = glue_files(DATA / "glue", DecontConfig().tasks, ["dev", "test"], missing_ok=True)
    jobs = [
        # datatrove has no GLUE indexer (its own reads lighteval tasks): ours, with datatrove's tokenizer
        ("decont_index", [GlueDecontIndexer([str(p) for p in glue], str(base / "index"), d_cfg, "en")],
         min(workers, len(glue))),
        ("filter", [ParquetReader(str(docs)), url_filter,
                    LanguageFilter(languages=["en"], exclusion_writer=removed("lid")),
                    GopherRepetitionFilter(exclusion_writer=removed("gopher_rep")),
                    GopherQualityFilter(exclusion_writer=removed("gopher_qual")),
                    C4QualityFilter(filter_no_terminal_punct=False, exclusion_writer=removed("c4")),
                    C4BadWordsFilter(exclusion_writer=removed("c4_badwords")),
                    FineWebQualityFilter(exclusion_writer=removed("fineweb")), PIIFormatter(),
                    JsonlWriter(str(base / "filtered"))], workers),
        ("exact_sig", [JsonlReader(str(base / "filtered")), ExactDedupSignature(str(base / "esig"), exact_cfg)],
         workers),
        ("exact_find", [ExactFindDedups(str(base / "esig"), str(base / "edup"), exact_cfg)], 1),
        ("exact_filter", [JsonlReader(str(base / "filtered")),
                          ExactDedupFilter(str(base / "edup"), exact_cfg, exclusion_writer=removed("exact")),
                          JsonlWriter(str(base / "unique"))], workers),
        ("mh_sig", [JsonlReader(str(base / "unique")), MinhashDedupSignature(str(base / "msig"), mh_cfg)], workers),
        ("mh_buckets", [MinhashDedupBuckets(str(base / "msig"), str(base / "mbuck"), config=mh_cfg)],
         mh_cfg.num_buckets),
        ("mh_cluster", [MinhashDedupCluster(str(base / "mbuck"), str(base / "mrem"), config=mh_cfg)], 1),
        ("final", [JsonlReader(str(base / "unique")),
                   MinhashDedupFilter(str(base / "mrem"), exclusion_writer=removed("minhash")),
                   NGramsDecontFilter(str(base / "index"), d_cfg, exclusion_writer=removed("decont")),
                   JsonlWriter(str(base / "output"))], workers),
    ]
    start = time.perf_counter()
    stats = {}
    with PeakRSS() as mem:
        for name, steps, tasks in jobs:
            ex = LocalPipelineExecutor(steps, tasks=tasks, workers=min(workers, tasks),
                                       logging_dir=str(base / "logs" / name))
            ex.run()
            stats[name] = json.loads((base / "logs" / name / "stats.json").read_text())
    kept = sum(1 for p in (base / "output").glob("*.jsonl.gz") for _ in gzip.open(p, "rt"))
    step_times = {s["name"]: round(s["time_stats"]["total"], 2) for job in stats.values() for s in job
                  if s.get("time_stats")}
    return {"wall_s": time.perf_counter() - start, "peak_rss_mib": mem.mib, "kept": kept, "step_time_s": step_times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=2000, help="HTML responses curated (all: 5631)")
    parser.add_argument("--extract-limit", type=int, default=200, help="responses for the extractor comparison")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cores = min(args.workers, os.cpu_count() or 1)
    lid_model = str(ensure_model(REPO / ".cache" / "lid" / "lid.176.ftz"))

    _, t_traf = extract("trafilatura", args.extract_limit)
    _, t_resi = extract("resiliparse", args.extract_limit)
    rows, t_extract = extract("resiliparse", args.limit)
    write_docs(rows, WORK / "docs")
    groups = Counter(content_hash(r["text"]) for r in rows if r["text"].strip())
    recrawls = sum(n - 1 for n in groups.values() if n > 1)

    ours = run_ours(WORK / "docs", args.workers, lid_model)
    bare = run_bare(WORK / "docs", args.workers, lid_model)
    m = ours["metrics"]
    kept_rows = [r for p in (WORK / "ours" / "docs").glob("*.parquet") for r in pq.read_table(p).to_pylist()]
    left = sum(n - 1 for n in Counter(content_hash(r["text"]) for r in kept_rows).values() if n > 1)

    n = m["docs_in"]
    result = {
        "input_responses": len(rows), "cores": cores, "workers": args.workers,
        "extract_docs_per_s_per_core": {"trafilatura": round(args.extract_limit / t_traf, 1),
                                        "resiliparse": round(args.extract_limit / t_resi, 1)},
        "ours": {"wall_s": round(ours["wall_s"], 1), "docs_per_s_per_core": round(n / ours["wall_s"] / cores, 1),
                 "peak_rss_mib": ours["peak_rss_mib"], "kept": m["docs_kept"], "job_time_s": m["job_time_s"]},
        "bare": {"wall_s": round(bare["wall_s"], 1), "docs_per_s_per_core": round(n / bare["wall_s"] / cores, 1),
                 "peak_rss_mib": bare["peak_rss_mib"], "kept": bare["kept"], "step_time_s": bare["step_time_s"]},
        "ratio_ours_over_bare": round(bare["wall_s"] / ours["wall_s"], 3),
        "full_recipe_docs_per_s_per_core": round(n / (t_extract + ours["wall_s"] * cores), 1),
        "steps": {s: {"docs_in": m["steps"][s]["docs_in"], "removed": sum(m["steps"][s]["removed"].values()),
                      "removal_rate": round(sum(m["steps"][s]["removed"].values()) / max(m["steps"][s]["docs_in"], 1),
                                            4),
                      "task_time_s": m["steps"][s]["time_s"]} for s in STEPS if s in m["steps"]},
        "recrawl_duplicates_in_input": recrawls,
        "duplicates_removed": {"exact": m["duplicates_exact"], "near": m["duplicates_near"]},
        "duplicate_copies_left_in_output": left,
    }
    out = REPO / "bench" / "results" / "curate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


def table(r: dict) -> str:
    lines = [f"webdocs, {r['input_responses']} HTML responses (Resiliparse), {r['workers']} workers on "
             f"{r['cores']} cores", "",
             "| | ours | bare datatrove |", "|---|---|---|",
             f"| wall time (s) | {r['ours']['wall_s']} | {r['bare']['wall_s']} |",
             f"| docs/s/core | {r['ours']['docs_per_s_per_core']} | {r['bare']['docs_per_s_per_core']} |",
             f"| peak RSS (MiB) | {r['ours']['peak_rss_mib']} | {r['bare']['peak_rss_mib']} |",
             f"| docs kept | {r['ours']['kept']} | {r['bare']['kept']} |",
             f"| throughput ratio ours/bare | {r['ratio_ours_over_bare']} | |", "",
             "| step | docs in | removed | rate | task time (s) |", "|---|---|---|---|---|"]
    lines += [f"| {s} | {v['docs_in']} | {v['removed']} | {v['removal_rate']:.1%} | {v['task_time_s']} |"
              for s, v in r["steps"].items()]
    ex = r["extract_docs_per_s_per_core"]
    lines += ["", f"extraction docs/s/core: trafilatura {ex['trafilatura']}, Resiliparse {ex['resiliparse']}; "
              f"full recipe (extract + curate) {r['full_recipe_docs_per_s_per_core']} docs/s/core",
              f"re-crawl duplicates in input: {r['recrawl_duplicates_in_input']}; removed as exact "
              f"{r['duplicates_removed']['exact']}, near {r['duplicates_removed']['near']}; "
              f"duplicate copies left in output: {r['duplicate_copies_left_in_output']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
