"""Inputs from outside that broke ingest (issue 15): a plain WARC with one corrupt record, and
file errors hit by a task of rank >= 1, which reached metrics but not the console."""
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO
from ingest_data import corrupt_member, write_warc

from pipeline.ingest.readers import WarcHtmlReader
from pipeline.ingest.warc import Unreadable, _iter_stream, iter_warc

PAGES = {f"https://example.org/{p}" for p in ("utf8", "xhtml", "cp1251", "latin1", "blank")}  # the HTML ones
XHTML = "https://example.org/xhtml"  # the record the faults hit: the second response, mid-file


def read(reader, rank=0, world_size=1):
    return list(reader.run(None, rank, world_size))


def record_start(data: bytes, url: str) -> int:
    """Offset of the response record of `url` (the test WARCs have no request records)."""
    return data.rindex(b"WARC/1.", 0, data.index(b"WARC-Target-URI: " + url.encode() + b"\r\n"))


def change_length(data: bytes, start: int, delta: int) -> bytes:
    """The record at `start` with its WARC Content-Length off by `delta` (its block unchanged)."""
    i = data.index(b"Content-Length: ", start) + len(b"Content-Length: ")
    j = data.index(b"\r\n", i)
    return data[:i] + str(int(data[i:j]) + delta).encode() + data[j:]


def insert_garbage(data: bytes, start: int) -> bytes:
    """Binary junk inside the record's payload, after its HTTP headers."""
    body = data.index(b"\r\n\r\n", data.index(b"\r\n\r\n", start) + 4) + 4
    return data[:body + 40] + bytes(range(256)) * 2 + data[body + 40:]


def garble_header(data: bytes, start: int) -> bytes:
    """The name of the record's Content-Length header overwritten in place with junk."""
    i = data.index(b"Content-Length: ", start)
    return data[:i] + b"\x00\xff" * 7 + data[i + 14:]


FAULTS = {
    "length_too_long": lambda data, start: change_length(data, start, 300),  # runs into the next record
    "length_too_short": lambda data, start: change_length(data, start, -200),  # ends inside the payload
    "garbage_in_payload": insert_garbage,
    "garbage_in_header": garble_header,
}


@pytest.mark.parametrize("fault", FAULTS)
def test_plain_warc_corrupt_record_costs_that_record_only(tmp_path, fault):
    path = write_warc(tmp_path / "a.warc", gzip=False, with_requests=False)
    data = path.read_bytes()
    start = record_start(data, XHTML)
    path.write_bytes(FAULTS[fault](data, start))
    reader = WarcHtmlReader([path], source="web")
    docs = read(reader)
    assert {d.metadata["url"] for d in docs} == PAGES - {XHTML}  # every record before and after it
    assert reader.skipped == {"not_response": 1, "non_html": 1, "http_status": 1, "empty_payload": 1,
                              "unreadable": 1}
    assert reader.records_read == len(docs) + sum(reader.skipped.values())
    assert len(reader.errors) == 1 and reader.errors[0].startswith(f"{path}: corrupt WARC record (")
    assert reader.errors[0].endswith(f" at byte {start}") and "\n" not in reader.errors[0]


@pytest.mark.parametrize("where", ["between_records", "at_the_end"])
def test_plain_warc_junk_outside_records_costs_no_record(tmp_path, where):
    path = write_warc(tmp_path / "a.warc", gzip=False, with_requests=False)
    data = path.read_bytes()
    at = record_start(data, "https://example.org/cp1251") if where == "between_records" else len(data)
    path.write_bytes(data[:at] + b"\x00\xff junk" * 20 + data[at:])
    reader = WarcHtmlReader([path], source="web")
    docs = read(reader)
    assert {d.metadata["url"] for d in docs} == PAGES
    assert reader.skipped["unreadable"] == 1 and reader.records_read == len(docs) + sum(reader.skipped.values())
    assert reader.errors == [f"{path}: corrupt WARC record (no WARC/ line where a record should start) at byte {at}"]


def test_plain_warc_two_corrupt_records_in_a_row(tmp_path):
    path = write_warc(tmp_path / "a.warc", gzip=False, with_requests=False)
    data = path.read_bytes()
    data = change_length(data, record_start(data, "https://example.org/cp1251"), 5000)  # past the next one
    path.write_bytes(change_length(data, record_start(data, XHTML), 300))
    reader = WarcHtmlReader([path], source="web")
    docs = read(reader)
    assert {d.metadata["url"] for d in docs} == PAGES - {XHTML, "https://example.org/cp1251"}
    assert reader.skipped["unreadable"] == 2 and reader.records_read == len(docs) + sum(reader.skipped.values())


def test_plain_warc_cut_short_counts_the_last_record_truncated(tmp_path):
    path = write_warc(tmp_path / "a.warc", gzip=False, with_requests=False)
    data = path.read_bytes()
    path.write_bytes(data[:-10])  # inside the last record, the "blank" page
    reader = WarcHtmlReader([path], source="web")
    docs = read(reader)
    assert {d.metadata["url"] for d in docs} == PAGES - {"https://example.org/blank"}
    assert reader.skipped["truncated"] == 1 and reader.records_read == len(docs) + sum(reader.skipped.values())
    assert reader.errors == [f"{path}: WARC record cut short by the end of the file at byte "
                             f"{record_start(data, 'https://example.org/blank')}"]


def test_well_formed_plain_warc_reads_as_warcio_reads_it(tmp_path):
    path = write_warc(tmp_path / "a.warc", gzip=False)
    with open(path, "rb") as fh:
        whole = list(_iter_stream(fh, 0))  # warcio over the whole file: the reading before issue 15
    assert list(iter_warc(path)) == whole and len(whole) == 17


@pytest.mark.slow
def test_real_plain_crawl_files_read_as_warcio_reads_them(shared_data):
    files = sorted((shared_data / "commoncrawl").glob("*/*.warc*"))
    assert len(files) == 3  # .warc, .warc.wat, .warc.wet: all uncompressed
    for path in files:
        with open(path, "rb") as fh:
            whole = list(_iter_stream(fh, 0))
        assert list(iter_warc(path)) == whole and not any(isinstance(r, Unreadable) for r in whole)


def test_every_task_s_file_errors_reach_the_console_once(project, tmp_path):
    """Two tasks: the bad JSON line is the second record, converted (and its error found) by
    task 1; the corrupt gzip member is counted by task 0. Each error is printed exactly once,
    and metrics list the same ones."""
    root = tmp_path / "in"
    root.mkdir()
    rows = root / "rows.jsonl"
    rows.write_text('{"text": "A row."}\nnot json\n{"text": "Another row."}\n')
    warc = write_warc(root / "a.warc.gz", with_requests=False)
    corrupt_member(warc, 2)
    sources = ("[{name: rows, kind: jsonl, uri: rows.jsonl},"
               " {name: web, kind: warc, uri: a.warc.gz, extractor: resiliparse}]")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "ingest", "--set", f"ingest.sources={sources}",
                           "--set", "ingest.workers=2", "--set", f"data_root={root}",
                           "--params", str(REPO / "params.yaml")],
                          capture_output=True, text=True, cwd=project,
                          env={**os.environ, "LMPIPE_ROOT": str(project), "LMPIPE_DATA": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((project / "metrics" / "ingest.json").read_text())
    assert metrics["workers"] == 2
    errors = {name: m["errors"] for name, m in metrics["sources"].items()}
    assert errors["rows"] == [f"{rows}:2: not JSON (Expecting value: line 1 column 1 (char 0))"]
    assert len(errors["web"]) == 1 and "corrupt gzip member" in errors["web"][0]
    console = proc.stdout.splitlines() + proc.stderr.splitlines()
    for error in errors["rows"] + errors["web"]:
        assert sum(error in line for line in console) == 1, (error, proc.stderr[-3000:])
