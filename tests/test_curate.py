"""curate: the steps one by one, then the whole recipe on synthetic documents."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datatrove.data import Document
from datatrove.utils.word_tokenizers import load_word_tokenizer

import pipeline  # noqa: F401  (offline environment)
from pipeline import curate
from pipeline.config import build
from pipeline.curate.decont import glue_files, read_texts
from pipeline.curate.lid import ensure_model
from pipeline.curate.normalize import content_hash
from pipeline.curate.steps import LengthFilter, LocalBadWordsFilter, OfflineURLFilter
from pipeline.curate.tokenizer import CachedSpacyTokenizer
from pipeline.errors import ConfigError, InputError
from conftest import REPO
from curate_data import FRENCH, GLUE_SENTENCE, english, write_docs, write_glue


@pytest.fixture(scope="session")
def lid_model() -> str:
    """The real lid.176.ftz, fetched once into the checkout's cache (not the per-test root)."""
    return str(ensure_model(REPO / ".cache" / "lid" / "lid.176.ftz"))


def doc(text: str, url: str | None = None) -> Document:
    return Document(text=text, id="d", metadata={"url": url} if url else {})


# ---------------------------------------------------------------------------------- steps

def test_length_filter_names_its_reasons():
    f = LengthFilter(min_chars=10, max_chars=20)
    assert f.filter(doc("")) == (False, "too_short")
    assert f.filter(doc("x" * 21)) == (False, "too_long")
    assert f.filter(doc("just right")) is True


def test_url_filter_offline_extra_domains_and_missing_url():
    f = OfflineURLFilter(use_integrated_lists=False, extra_domains=["spam-site.com"])
    assert f.filter(doc("t", "https://www.spam-site.com/page")) == (False, "domain")
    assert f.filter(doc("t", "https://docs.python.org/3/")) is True
    assert f.filter(doc("t")) is True  # a dump page without URL passes, counted
    assert f.stats["no_url"].total == 1


@pytest.mark.slow
def test_url_filter_shipped_block_list():
    f = OfflineURLFilter()
    assert f.filter(doc("t", "https://docs.python.org/3/")) is True
    assert len(f.block_listed_domains) > 1_000_000  # datatrove's UT1 list, loaded offline


def test_badwords_from_a_local_list(tmp_path):
    words = tmp_path / "badwords.txt"
    words.write_text("# test list\nzorglub\n")
    f = LocalBadWordsFilter(str(words))
    assert f.filter(doc("a zorglub appeared")) == (False, "document_removed_with_badwords")
    assert f.filter(doc("zorglubian is not the word")) is True  # whole words only, as C4


def test_tokenizer_gives_datatrove_tokens_faster_path():
    texts = [english(s) for s in range(20)] + ["Mr. O'Neil's e-mail: a@b.com -- 3.5% (approx.)!"]
    ours, theirs = CachedSpacyTokenizer("en", refresh_every=7), load_word_tokenizer("en")
    for text in texts:
        assert ours.word_tokenize(text) == theirs.word_tokenize(text)
        assert ours.span_tokenize(text) == theirs.span_tokenize(text)


def test_content_hash_catches_recrawl_variants():
    text = english(1)
    assert content_hash(text) == content_hash("  " + text.upper().replace(" ", "\n ", 3) + "\n")
    assert content_hash(text) != content_hash(text.replace(".", "!", 1) + " 3.12")


def test_glue_reader_layouts(tmp_path):
    glue = write_glue(tmp_path)
    cola, rte = glue_files(glue, ["CoLA", "RTE", "QQP"], ["dev", "test"], missing_ok=True)
    assert read_texts(cola)[0].lower().startswith("the committee finally agreed")
    assert read_texts(rte) == ["A cat sat.", "A cat is sitting."]
    with pytest.raises(InputError, match="QQP"):
        glue_files(glue, ["QQP"], ["dev"], missing_ok=False)


def test_unknown_heuristic_option_is_a_config_error():
    with pytest.raises(ConfigError, match="gopher_quality.options.min_words"):
        build(curate.Config, {"gopher_quality": {"options": {"min_words": 3}}}, prefix="curate")


# ---------------------------------------------------------------------------- the recipe

def corpus() -> list[dict]:
    rows = [{"id": f"en{i}", "text": english(i), "source": "web", "url": f"https://site{i}.org/p"}
            for i in range(12)]
    near = english(3).replace("Library", "Libraries", 1).split(" ")
    near[5] = "cathedral"
    rows += [
        # the same page re-crawled under another URL, re-extracted with other spacing
        {"id": "recrawl", "text": "  " + english(0).replace("\n", "\n\n") + " ", "source": "web",
         "url": "http://site0.org/p?utm_source=x"},
        {"id": "near", "text": " ".join(near), "source": "web", "url": "https://mirror.org/p"},
        {"id": "empty", "text": "", "source": "web", "url": "https://site.org/empty"},
        {"id": "french", "text": FRENCH, "source": "web", "url": "https://fr.site.org/p"},
        {"id": "spam", "text": english(40), "source": "web", "url": "https://www.spam-site.com/a"},
        {"id": "bad", "text": english(41) + " Zorglub.", "source": "web", "url": "https://site41.org/p"},
        {"id": "glue", "text": english(42) + f"\n{GLUE_SENTENCE.capitalize()}.", "source": "wiki", "url": None},
        {"id": "pii", "text": english(43) + "\nWrite to jane.doe@university.edu or 8.8.8.8 for details.",
         "source": "web", "url": "https://site43.org/p"},
    ]
    return rows


def make_cfg(tmp_path: Path, lid_model: str, **overrides) -> curate.Config:
    write_docs(tmp_path / "docs", corpus()[:10], "part-0.parquet")
    write_docs(tmp_path / "docs", corpus()[10:], "part-1.parquet")
    write_glue(tmp_path)
    (tmp_path / "blocked.txt").write_text("spam-site.com\n")
    values = {
        "docs": str(tmp_path / "docs"), "curated": str(tmp_path / "curated"), "data_root": str(tmp_path),
        "executor": {"tasks": 2, "workers": 1},
        "url_filter": {"use_integrated_lists": False, "extra_domains": str(tmp_path / "blocked.txt")},
        "lid": {"model": lid_model},
        "decontaminate": {"tasks": ["CoLA", "RTE"]},
        **overrides,
    }
    return build(curate.Config, values, prefix="curate")


def read_dir(folder: Path) -> list[dict]:
    return [row for p in sorted(folder.glob("*.parquet")) for row in pq.read_table(p).to_pylist()]


@pytest.fixture(scope="module")
def curated(tmp_path_factory, lid_model):
    """One full run, shared by the assertions below (it takes a few seconds)."""
    tmp = tmp_path_factory.mktemp("curate")
    mp = pytest.MonkeyPatch()
    mp.setenv("LMPIPE_ROOT", str(tmp))
    (tmp / "bad.txt").write_text("zorglub\n")
    cfg = make_cfg(tmp, lid_model, c4_badwords={"path": str(tmp / "bad.txt")})
    metrics = curate.run(cfg)
    yield tmp, cfg, metrics
    mp.undo()


def test_every_step_balances_and_matches_disk(curated):
    tmp, _, metrics = curated
    steps = metrics["steps"]
    assert metrics["docs_in"] == len(corpus())
    for name, s in steps.items():
        assert s["docs_in"] == s["kept"] + sum(s["removed"].values()), name
        assert sum(s["removed"].values()) == len(read_dir(tmp / "curated" / "removed" / name)), name
    kept = read_dir(tmp / "curated" / "docs")
    assert len(kept) == metrics["docs_kept"] == metrics["docs_in"] - metrics["docs_removed"]
    funnel = (tmp / "plots" / "curate_funnel.csv").read_text().splitlines()
    assert funnel[0] == "step,docs" and funnel[1] == f"input,{len(corpus())}"
    assert funnel[-1] == f"decontaminate,{len(kept)}"


def test_each_bad_document_is_removed_by_its_step(curated):
    tmp, _, _ = curated
    removed = {row["id"]: (step.name, row["reason"])
               for step in (tmp / "curated" / "removed").iterdir() for row in read_dir(step)}
    assert removed == {
        "empty": ("length", "too_short"),
        "spam": ("url_filter", "domain"),
        "french": ("lid", "other_language"),
        "bad": ("c4_badwords", "document_removed_with_badwords"),
        "recrawl": ("exact_dedup", "exact_duplicate"),
        "near": ("minhash_dedup", "near_duplicate"),
        "glue": ("decontaminate", "contaminated"),
    }


def test_kept_documents_keep_the_docs_schema_with_lang_and_no_pii(curated):
    tmp, _, metrics = curated
    kept = {row["id"]: row for row in read_dir(tmp / "curated" / "docs")}
    assert set(kept) == {f"en{i}" for i in range(12)} | {"pii"}
    assert list(kept["en1"]) == ["id", "text", "source", "url", "title", "timestamp", "lang"]
    assert {row["lang"] for row in kept.values()} == {"en"}
    assert "jane.doe@university.edu" not in kept["pii"]["text"] and "8.8.8.8" not in kept["pii"]["text"]
    assert metrics["steps"]["pii"]["anonymized"] == 1
    assert metrics["warnings"] == []
    assert (tmp / "curated" / "config.yaml").exists() and not (tmp / "curated" / "work").exists()


def test_rerun_of_a_finished_partial_resumes_from_completion_markers(curated):
    tmp, cfg, metrics = curated
    out = tmp / "curated"
    partial = out.with_name("curated.partial")
    out.rename(partial)  # as if the stage died after its last datatrove job
    markers = sorted(p.relative_to(partial) for p in (partial / "logs").glob("*/completions/*"))
    again = curate.run(cfg)
    assert again["steps"] == metrics["steps"]  # counts rebuilt from per-task stats on disk
    assert sorted(p.relative_to(out) for p in (out / "logs").glob("*/completions/*")) == markers
    assert all(t < 1.0 for t in again["job_time_s"].values())  # every job skipped its tasks


def test_badwords_without_list_offline_is_skipped_with_a_warning(tmp_path, lid_model, monkeypatch):
    monkeypatch.setenv("LMPIPE_ROOT", str(tmp_path))
    monkeypatch.delenv("LMPIPE_ONLINE", raising=False)
    # also the single-task layout (tiny profile): one stats file per job, zero counters saved as 0
    cfg = make_cfg(tmp_path, lid_model, minhash={"enabled": False}, decontaminate={"enabled": False},
                   gopher_repetition={"enabled": False}, gopher_quality={"enabled": False},
                   executor={"tasks": 1, "workers": 1})
    metrics = curate.run(cfg)
    assert "c4_badwords" not in metrics["steps"]
    assert any("c4_badwords" in w and "skipped" in w for w in metrics["warnings"])
    assert json.loads(json.dumps(metrics)) == metrics  # JSON-able as the runner writes it


def test_missing_docs_is_one_input_error(tmp_path, lid_model, monkeypatch):
    monkeypatch.setenv("LMPIPE_ROOT", str(tmp_path))
    cfg = build(curate.Config, {"docs": str(tmp_path / "nope"), "lid": {"model": lid_model}}, prefix="curate")
    with pytest.raises(InputError, match="nope: no \\*.parquet shards"):
        curate.run(cfg)
