"""The ingest stage: shards, counts, determinism, and hard errors on bad input."""
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO
from ingest_data import corrupt_member, small_dump, write_bz2, write_warc, write_wet

from pipeline.errors import InputError
from pipeline.ingest import Config, Source, run
from pipeline.schema import DOCS_SCHEMA


@pytest.fixture
def inputs(tmp_path):
    root = tmp_path / "in"
    (root / "wiki").mkdir(parents=True)
    (root / "crawl").mkdir()
    write_bz2(root / "wiki" / "frwiki-pages-articles.xml.bz2", small_dump())
    pq.write_table(pa.table({"id": [str(i) for i in range(6)], "url": [f"u{i}" for i in range(6)],
                             "title": [f"T{i}" for i in range(6)], "text": [f"Texte {i}." for i in range(6)]}),
                   root / "wiki" / "fr-leads.parquet")
    for name in ("a", "b"):
        write_warc(root / "crawl" / f"{name}.warc.gz")
    corrupt_member(root / "crawl" / "b.warc.gz", 4)
    write_wet(root / "crawl" / "c.warc.wet", {"http://a/": "Du texte brut.", "http://b/": "Encore du texte."})
    return root


def make_config(root, **overrides) -> Config:
    sources = [Source("wiki", "wikipedia_xml", "wiki/*.xml.bz2"),
               Source("leads", "wikipedia_parquet", "wiki/*.parquet", limit=5),
               Source("web", "warc", "crawl/*.warc.gz", extractor="resiliparse"),
               Source("wet", "wet", "crawl/*.wet")]
    return Config(**{"data_root": str(root), "docs": "data/docs", "sources": sources, **overrides})


def read_docs(docs):
    return pq.read_table(sorted(docs.glob("*.parquet"))).sort_by("id")


def test_run_writes_every_document_once_and_accounts_for_every_record(project, inputs):
    stale = project / "data" / "docs.partial" / "stale.parquet"  # a killed run with other params
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    metrics = run(make_config(inputs, workers=2))
    docs = project / "data" / "docs"
    table = read_docs(docs)
    assert pq.read_schema(next(docs.glob("*.parquet"))).equals(DOCS_SCHEMA)
    assert not (project / "data" / "docs.partial").exists() and not (docs / ".ingest").exists()
    assert not (docs / "stale.parquet").exists()
    assert (docs / "config.yaml").exists()
    samples = [json.loads(line) for line in (docs / "samples.jsonl").read_text().splitlines()]
    assert {s["source"] for s in samples} == {"wiki", "leads", "web", "wet"}

    m = metrics["sources"]
    assert m["wiki"]["kept"] == 2 and m["leads"]["kept"] == 5 and m["wet"]["kept"] == 2
    assert m["web"]["kept"] == 7 and m["web"]["skipped"]["unreadable"] == 1  # 4 pages a file, minus one
    assert m["web"]["errors"] and "b.warc.gz" in m["web"]["errors"][0]
    for source in m.values():
        assert source["records"] == source["kept"] + sum(source["skipped"].values())
    assert metrics["docs"] == table.num_rows == 16
    assert len(set(table.column("id").to_pylist())) == table.num_rows
    leads = table.filter(pa.compute.equal(table.column("source"), "leads"))
    assert set(leads.column("lang").to_pylist()) == {"fr"}


def test_same_input_same_output_whatever_the_workers(project, inputs):
    run(make_config(inputs, workers=2))
    docs = project / "data" / "docs"
    first = {p.name: p.read_bytes() for p in docs.glob("*.parquet")}
    run(make_config(inputs, workers=2))
    assert {p.name: p.read_bytes() for p in docs.glob("*.parquet")} == first
    by_two = read_docs(docs)
    run(make_config(inputs, workers=1))
    assert read_docs(docs).equals(by_two)


@pytest.mark.parametrize("case, message", [
    ("glob", "no file matches"),
    ("empty", "empty file (0 bytes)"),
    ("wrong_kind", "not a readable WARC file"),
    ("columns", "missing column(s) text"),
    ("not_xml", "not a readable MediaWiki XML dump"),
])
def test_bad_files_are_one_line_errors_with_no_output(project, tmp_path, case, message):
    root = tmp_path / "bad"
    root.mkdir()
    source = {
        "glob": Source("x", "warc", "nothing/*.warc.gz"),
        "empty": Source("x", "warc", "empty.warc.gz"),
        "wrong_kind": Source("x", "warc", "dump.xml.bz2"),
        "columns": Source("x", "wikipedia_parquet", "t.parquet"),
        "not_xml": Source("x", "wikipedia_xml", "a.warc"),
    }[case]
    (root / "empty.warc.gz").touch()
    write_bz2(root / "dump.xml.bz2", small_dump())
    pq.write_table(pa.table({"id": ["1"], "url": ["u"], "title": ["t"]}), root / "t.parquet")
    write_warc(root / "a.warc", gzip=False)
    with pytest.raises(InputError) as err:
        run(Config(data_root=str(root), sources=[source]))
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (project / "data").exists()


def test_cli_reports_a_glob_matching_nothing_in_one_line_and_exits_2(project, tmp_path):
    sources = '[{name: x, kind: warc, uri: "nowhere/*.warc.gz"}]'
    proc = subprocess.run([sys.executable, "-m", "pipeline", "ingest", "--set", f"ingest.sources={sources}",
                           "--set", f"data_root={tmp_path}", "--params", str(REPO / "params.yaml")],
                          capture_output=True, text=True, cwd=project, env=_env(project))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"lmpipe ingest: error: {tmp_path}/nowhere/*.warc.gz: no file matches"]


def _env(project):
    return {**os.environ, "LMPIPE_ROOT": str(project), "LMPIPE_DATA": ""}


@pytest.mark.slow
def test_tiny_profile_on_real_data(project, shared_data):
    proc = subprocess.run([sys.executable, "-m", "pipeline", "ingest", "--set", "profile=tiny",
                           "--params", str(REPO / "params.yaml")], capture_output=True, text=True, cwd=project,
                          env={**_env(project), "LMPIPE_DATA": str(shared_data)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((project / "metrics" / "ingest.json").read_text())
    m = metrics["sources"]
    assert m["webdocs"]["kept"] == 300 and m["enwiki_leads"]["kept"] == 500
    assert m["cc_warc"]["kept"] == 3 and m["cc_wet"]["kept"] == 3  # CC: 4 responses, one with no body
    assert m["cc_warc"]["skipped"] == {"not_response": 9, "empty_payload": 1}
    assert m["enwiki"]["records"] == 80 and not metrics["skipped"].get("unreadable")
    table = read_docs(project / "data" / "docs")
    assert table.num_rows == metrics["docs"]
    assert set(table.filter(pa.compute.equal(table.column("source"), "enwiki")).column("lang").to_pylist()) == {"en"}
