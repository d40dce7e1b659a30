"""Ingest throughput: HTML extraction (trafilatura vs Resiliparse) on the webdocs pages, and the
whole ingest stage per source on the default profile.

1. Extraction, one core: a uniform sample of the webdocs pages (every k-th response record, via
   the reader's task split) decoded by WarcHtmlReader, then each extractor called directly, and
   through datatrove's sandboxed step as ingest runs it.
2. The stage: `run` on the default profile's sources in a scratch project (2 workers), once with
   the profile's extractors, and with `--trafilatura-stage` once more with trafilatura on webdocs.

Prints a table and writes bench/results/ingest.json. Usage:
    python bench/ingest.py [--sample 400] [--trafilatura-stage]
"""
from __future__ import annotations

import argparse
import json
import os
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
from pipeline.ingest.readers import WarcHtmlReader  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=400, help="webdocs pages for the extractor comparison")
    parser.add_argument("--trafilatura-stage", action="store_true",
                        help="also run the whole stage with trafilatura on webdocs (minutes)")
    args = parser.parse_args()
    data = shared_data_dir()
    pages, read_s = sample_pages(data, args.sample)
    result = {"cpus": os.cpu_count(), "sample_pages": len(pages), "read_all_webdocs_s": round(read_s, 2),
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
    out = REPO / "bench" / "results" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
