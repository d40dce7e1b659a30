"""curate: the steps one by one, then the whole recipe on synthetic documents."""
from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter
from datatrove.utils.word_tokenizers import load_word_tokenizer

import pipeline  # noqa: F401  (offline environment)
from pipeline import artifacts, curate
from pipeline.config import build, load_params, stage_config, to_dict
from pipeline.curate import check_badwords
from pipeline.curate.config import recipe_for
from pipeline.curate.decont import glue_files, read_texts
from pipeline.curate.lid import ensure_model
from pipeline.curate.normalize import content_hash
from pipeline.curate import recipe as recipe_module
from pipeline.curate.recipe import badwords_filter
from pipeline.curate.steps import (LengthFilter, LocalBadWordsFilter, OfflineURLFilter, RecipeFilter, RecipeTagger,
                                   read_list)
from pipeline.curate.tokenizer import CachedSpacyTokenizer
from pipeline.errors import ConfigError, InputError
from conftest import REPO
from curate_data import APP_SENTENCES, FRENCH, GLUE_SENTENCE, dialogue, english, write_app_evals, write_docs, write_glue


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
        # a sentence of each application's evaluation set, quoted in a page
        *({"id": f"{app}_eval", "text": english(44 + i) + f"\n{sentence}.", "source": "wiki", "url": None}
          for i, (app, sentence) in enumerate(APP_SENTENCES.items())),
        {"id": "pii", "text": english(43) + "\nWrite to jane.doe@university.edu or 8.8.8.8 for details.",
         "source": "web", "url": "https://site43.org/p"},
    ]
    return rows


def make_cfg(tmp_path: Path, lid_model: str, **overrides) -> curate.Config:
    write_docs(tmp_path / "docs", corpus()[:10], "part-0.parquet")
    write_docs(tmp_path / "docs", corpus()[10:], "part-1.parquet")
    write_glue(tmp_path)
    write_app_evals(tmp_path)
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


def funnel_plot(tmp: Path) -> dict[str, Counter]:
    """plots/curate_funnel.csv as {step: {recipe: documents left}}, in the file's order."""
    left: dict[str, Counter] = {}
    for row in csv.DictReader((tmp / "plots" / "curate_funnel.csv").read_text().splitlines()):
        left.setdefault(row["step"], Counter())[row["recipe"]] += int(row["docs"])
    return left


def test_every_step_balances_and_matches_disk(curated):
    tmp, _, metrics = curated
    steps = metrics["steps"]
    assert metrics["docs_in"] == len(corpus())
    for name, s in steps.items():
        assert s["docs_in"] == s["kept"] + sum(s["removed"].values()), name
        assert sum(s["removed"].values()) == len(read_dir(tmp / "curated" / "removed" / name)), name
    kept = read_dir(tmp / "curated" / "docs")
    assert len(kept) == metrics["docs_kept"] == metrics["docs_in"] - metrics["docs_removed"]
    left = funnel_plot(tmp)
    assert list(left)[0] == "input" and left["input"] == {"base": len(corpus())}  # no recipes: one group
    assert list(left)[-1] == "decontaminate" and left["decontaminate"] == {"base": len(kept)}


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
        **{f"{app}_eval": ("decontaminate", "contaminated") for app in APP_SENTENCES},
    }


def test_kept_documents_keep_the_docs_schema_with_lang_and_no_pii(curated):
    tmp, _, metrics = curated
    kept = {row["id"]: row for row in read_dir(tmp / "curated" / "docs")}
    assert set(kept) == {f"en{i}" for i in range(12)} | {"pii"}
    assert list(kept["en1"]) == ["id", "text", "source", "url", "title", "timestamp", "lang",
                                 "author", "release_date", "ebook_number"]
    assert {row["lang"] for row in kept.values()} == {"en"}
    assert "jane.doe@university.edu" not in kept["pii"]["text"] and "8.8.8.8" not in kept["pii"]["text"]
    assert metrics["steps"]["pii"]["anonymized"] == 1
    assert metrics["warnings"] == []
    assert (tmp / "curated" / "config.yaml").exists() and not (tmp / "curated" / "work").exists()


def test_rerun_of_a_finished_partial_resumes_from_completion_markers(curated):
    tmp, cfg, metrics = curated
    out = tmp / "curated"
    partial = out.with_name("curated.partial")
    out.rename(partial)  # as if the stage died after its last datatrove job, under the same config
    (partial / artifacts.RESUME_KEY).write_text(curate.resume_key(cfg))
    markers = sorted(p.relative_to(partial) for p in (partial / "logs").glob("*/completions/*"))
    again = curate.run(cfg)
    assert again["steps"] == metrics["steps"]  # counts rebuilt from per-task stats on disk
    assert sorted(p.relative_to(out) for p in (out / "logs").glob("*/completions/*")) == markers
    assert all(t < 1.0 for t in again["job_time_s"].values())  # every job skipped its tasks


def test_missing_badwords_list_is_one_input_error_unless_the_step_is_off(tmp_path, lid_model, monkeypatch):
    monkeypatch.setenv("LMPIPE_ROOT", str(tmp_path))
    monkeypatch.delenv("LMPIPE_ONLINE", raising=False)
    # the default list, badwords/ldnoobw under data_root (here tmp_path): absent
    cfg = make_cfg(tmp_path, lid_model, minhash={"enabled": False}, decontaminate={"enabled": False},
                   gopher_repetition={"enabled": False}, gopher_quality={"enabled": False},
                   executor={"tasks": 1, "workers": 1})
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'badwords' / 'ldnoobw'}: bad-words list not found")):
        curate.run(cfg)
    (tmp_path / "badwords" / "ldnoobw").mkdir(parents=True)  # a directory without the `en` list
    with pytest.raises(InputError, match="ldnoobw/en: bad-words list not found"):
        curate.run(cfg)
    empty = build(curate.Config, {**to_dict(cfg), "c4_badwords": {"path": ""}}, prefix="curate")
    with pytest.raises(InputError, match="c4_badwords.path: empty.*LMPIPE_ONLINE"):
        curate.run(empty)
    # disabled: no list needed. Also the single-task layout (tiny profile): one stats file per
    # job, zero counters saved as 0
    off = build(curate.Config, {**to_dict(cfg), "c4_badwords": {"enabled": False}}, prefix="curate")
    metrics = curate.run(off)
    assert "c4_badwords" not in metrics["steps"] and metrics["warnings"] == []
    assert json.loads(json.dumps(metrics)) == metrics  # JSON-able as the runner writes it


def test_badwords_default_list_runs_offline(shared_data, monkeypatch):
    """The default c4_badwords path is the LDNOOBW copy in the data folder: read from disk,
    never downloaded (datatrove would fetch it from GitHub)."""
    import datatrove.io

    monkeypatch.delenv("LMPIPE_ONLINE", raising=False)
    monkeypatch.setattr(datatrove.io, "download_file", lambda *a, **k: pytest.fail("tried to download"))
    cfg = build(curate.Config, {"data_root": str(shared_data)}, prefix="curate")
    assert cfg.c4_badwords.path == "badwords/ldnoobw"
    check_badwords(cfg)  # the lists the default run reads are there
    f = badwords_filter(cfg, cfg.c4_badwords, None)
    listed = next(w for w in read_list(shared_data / "badwords" / "ldnoobw" / "en") if w.isalpha())
    en = {"language": "en"}  # what the language filter writes
    assert f.filter(Document(text=f"{english(1)} And {listed}.", id="b", metadata=dict(en))) == \
        (False, "document_removed_with_badwords")
    assert f.filter(Document(text=english(1), id="c", metadata=dict(en))) is True
    assert f.filter(Document(text=f"un {listed}", id="d", metadata={"language": "yo"})) is True  # no Yoruba list
    assert f.stats["missing_badwords_lang"].total == 1


# ------------------------------------------------------------------------------ recipes

BOOKS = {"sources": ["gutenberg*"], "gopher_quality": {"options": {"max_non_alpha_words_ratio": 0.6}},
         "c4_badwords": {"enabled": False}}


def test_recipe_step_settings_are_deep_merged_over_the_base():
    cfg = build(curate.Config, {"gopher_quality": {"options": {"min_doc_words": 50}},
                                "recipes": {"books": BOOKS}}, prefix="curate")
    assert cfg.step("gopher_quality", "books").options == {"min_doc_words": 50, "max_non_alpha_words_ratio": 0.6}
    assert cfg.step("gopher_quality").options == {"min_doc_words": 50}
    assert cfg.step("c4", "books") is cfg.c4 and not cfg.step("c4_badwords", "books").enabled
    assert [recipe_for(cfg.recipes, s) for s in ("gutenberg", "gutenberg_fr", "enwiki", None)] == \
        ["books", "books", None, None]


@pytest.mark.parametrize("recipe, message", [
    ({"sources": ["g"], "gopher": {}}, "curate.recipes.books.gopher: unknown key"),
    ({"sources": ["g"], "minhash": {"n_grams": 3}}, "curate.recipes.books.minhash: unknown key"),  # all sources
    ({"sources": ["g"], "c4": {"options": {"min_sentences": 2}}},
     "recipes.books.c4.options.min_sentences: not an option of C4QualityFilter"),
    ({"sources": ["g"], "lid": {"treshold": 0.5}}, "recipes.books.lid.treshold: unknown key"),
    ({"sources": ["g"], "lid": {"threshold": 2.0}}, "lid.threshold: must be in"),
    ({"sources": ["g"], "length": {"min_chars": 10**7}}, "recipes.books.length.min_chars: must be <="),
    ({"sources": ["g"], "c4": {"enabled": "no"}}, "recipes.books.c4.enabled: expected true/false"),
    ({"gopher_quality": {}}, "recipes.books: sources: a recipe needs at least one source"),
    ({"sources": ["g"], "treshold": 1}, "curate.recipes.books.treshold: unknown key"),
])
def test_bad_recipe_is_one_line_config_error(recipe, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        build(curate.Config, {"recipes": {"books": recipe}}, prefix="curate")
    assert "\n" not in str(info.value)


def test_a_source_in_two_recipes_is_a_config_error():
    with pytest.raises(ConfigError, match="recipes.b.sources: 'gutenberg' is also in recipes.a"):
        build(curate.Config, {"recipes": {"a": {"sources": ["gutenberg"]}, "b": {"sources": ["gutenberg"]}}},
              prefix="curate")
    cfg = build(curate.Config, {"recipes": {"a": {"sources": ["gut*"]}, "b": {"sources": ["*berg"]}}}, prefix="curate")
    with pytest.raises(ConfigError, match="source 'gutenberg' matches the sources of a and b"):
        recipe_for(cfg.recipes, "gutenberg")


def test_shipped_params_build_with_their_recipes():
    cfg = stage_config("curate", curate.Config, load_params(REPO / "params.yaml"))
    assert cfg.recipes and all(r.sources for r in cfg.recipes.values())


def test_only_steps_a_recipe_changes_are_routed(tmp_path):
    """Steps no recipe changes stay datatrove's own filter; a changed one holds an instance per
    distinct settings (None where the recipe turns the step off)."""
    cfg = build(curate.Config, {"data_root": str(tmp_path), "decontaminate": {"enabled": False},
                                "recipes": {"books": BOOKS, "same": {"sources": ["x"], "c4": {"enabled": True}}}},
                prefix="curate")
    job = recipe_module.build(cfg, tmp_path / "docs", tmp_path / "out", tmp_path / "work", []).jobs[0]
    steps = dict(zip(job.steps, job.pipeline))
    assert type(steps["c4"]) is C4QualityFilter and isinstance(job.pipeline[1], RecipeTagger)
    gopher = steps["gopher_quality"]
    assert isinstance(gopher, RecipeFilter) and gopher.filters["same"] is gopher.filters[None]
    assert gopher.filters["books"].max_non_alpha_words_ratio == 0.6 and gopher.filters[None].max_non_alpha_words_ratio == 0.8
    assert steps["c4_badwords"].filters["books"] is None


def recipe_corpus() -> list[dict]:
    """corpus() plus documents whose fate depends on their source's recipe."""
    text = dialogue(1)
    return corpus() + [
        # the same dialogue from the web (base: too few words with a letter) and from a book
        {"id": "dialogue-web", "text": text, "source": "web", "url": "https://site60.org/p"},
        {"id": "dialogue-book", "text": text, "source": "gutenberg", "url": None},
        # a listed word: removed from the web ("bad", in corpus()), kept in a book
        {"id": "bad-book", "text": english(61) + " Zorglub.", "source": "gutenberg", "url": None},
        # a recipe's document removed by a step the recipe does not change
        {"id": "short-book", "text": "The End.", "source": "gutenberg", "url": None},
        # a book page that is also a web page: dedup spans the sources
        {"id": "en5-book", "text": english(5), "source": "gutenberg", "url": None},
    ]


@pytest.fixture(scope="module")
def curated_recipes(tmp_path_factory, lid_model):
    tmp = tmp_path_factory.mktemp("curate_recipes")
    mp = pytest.MonkeyPatch()
    mp.setenv("LMPIPE_ROOT", str(tmp))
    (tmp / "bad.txt").write_text("zorglub\n")
    rows = recipe_corpus()
    cfg = make_cfg(tmp, lid_model, c4_badwords={"path": str(tmp / "bad.txt")}, recipes={"books": BOOKS},
                   minhash={"enabled": False})
    # make_cfg wrote corpus(); these shards replace it
    for shard in (tmp / "docs").glob("*.parquet"):
        shard.unlink()
    write_docs(tmp / "docs", rows[:12], "part-0.parquet")
    write_docs(tmp / "docs", rows[12:], "part-1.parquet")
    metrics = curate.run(cfg)
    yield tmp, metrics
    mp.undo()


def test_a_recipe_source_gets_the_recipe_thresholds(curated_recipes):
    tmp, metrics = curated_recipes
    removed = {row["id"]: (step.name, row["reason"], row["recipe"])
               for step in (tmp / "curated" / "removed").iterdir() for row in read_dir(step)}
    kept = {row["id"] for row in read_dir(tmp / "curated" / "docs")}
    # base settings drop the web copy; the books recipe keeps the book's
    assert removed["dialogue-web"] == ("gopher_quality", "gopher_below_alpha_threshold", None)
    assert "dialogue-book" in kept
    # the books recipe turns the bad-words rule off; the web keeps it
    assert removed["bad"] == ("c4_badwords", "document_removed_with_badwords", None)
    assert "bad-book" in kept
    # a step the recipe leaves alone still applies to it, and the removed row names the recipe
    assert removed["short-book"] == ("length", "too_short", "books")
    # exact dedup across sources: one of the two copies stays
    assert len({"en5", "en5-book"} & kept) == 1 and removed[({"en5", "en5-book"} - kept).pop()][:2] == \
        ("exact_dedup", "exact_duplicate")
    assert len(removed) + len(kept) == metrics["docs_in"] == len(recipe_corpus())


def test_recipe_run_funnel_balances_and_matches_disk(curated_recipes):
    tmp, metrics = curated_recipes
    for name, s in metrics["steps"].items():
        assert s["docs_in"] == s["kept"] + sum(s["removed"].values()), name
        assert s["removed"] == dict(sorted(Counter(r["reason"] for r in read_dir(tmp / "curated" / "removed" / name))
                                           .items())), name
    assert metrics["steps"]["c4_badwords"]["removed"] == {"document_removed_with_badwords": 1}
    assert metrics["steps"]["gopher_quality"]["removed"] == {"gopher_below_alpha_threshold": 1}
    left = funnel_plot(tmp)
    books = sum(r["source"] == "gutenberg" for r in recipe_corpus())
    assert left["input"] == {"base": len(recipe_corpus()) - books, "books": books}
    assert left["decontaminate"] == Counter("books" if r["source"] == "gutenberg" else "base"
                                            for r in read_dir(tmp / "curated" / "docs"))


def test_missing_docs_is_one_input_error(tmp_path, lid_model, monkeypatch):
    monkeypatch.setenv("LMPIPE_ROOT", str(tmp_path))
    cfg = build(curate.Config, {"docs": str(tmp_path / "nope"), "lid": {"model": lid_model}}, prefix="curate")
    with pytest.raises(InputError, match="nope: no \\*.parquet shards"):
        curate.run(cfg)
