"""tokenizer stage: training, saving for AutoTokenizer, determinism, shards, bad input."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from transformers import AutoTokenizer

from pipeline.errors import ConfigError, InputError
from pipeline.runner import run_stage
from pipeline.tokenizer import corpus
from pipeline.tokenizer.encode import token_dtype
from pretrain_helpers import PARAMS, make_corpus

SMALL = ["profile=tiny", "tokenizer.train_max_chars=300000"]


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_token_dtype_fits_vocab():
    assert token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32


def test_validation_split_is_stable_and_sized():
    ids = [f"doc-{i}" for i in range(20000)]
    val = [i for i in ids if corpus.is_validation(i, 0.05)]
    assert 800 < len(val) < 1200
    assert val == [i for i in ids if corpus.is_validation(i, 0.05)]


def test_sample_cap_truncates_stream():
    batches = [["a" * 10, "b" * 10], ["c" * 10]]
    got = list(corpus.capped(iter(batches), 15))
    assert got == [["a" * 10, "b" * 5]]
    assert list(corpus.capped(iter(batches), 0)) == batches


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="tokenizer: vocab_size: 100 is too small"):
        run_stage("tokenizer", ["tokenizer.vocab_size=100"], PARAMS)
    with pytest.raises(ConfigError, match="tokenizer.algorithm"):
        run_stage("tokenizer", ["tokenizer.algorithm=sentencepiece"], PARAMS)


# WordPiece is loadable but not byte-reproducible (see Config.algorithm), so it is checked below.
@pytest.mark.parametrize("algorithm,objective", [("bpe", "mlm"), ("bpe", "clm"), ("unigram", "mlm")])
def test_deterministic_and_loadable(project, shared_data, algorithm, objective):
    make_corpus(project, shared_data)
    sets = SMALL + [f"tokenizer.algorithm={algorithm}", f"tokenizer.objective={objective}"]
    first = run_stage("tokenizer", sets, PARAMS)
    tok_json = project / "data" / "tokenizer" / "tokenizer.json"
    digest = sha(tok_json)
    run_stage("tokenizer", sets, PARAMS)
    assert sha(tok_json) == digest, "same corpus + params must give a byte-identical tokenizer.json"

    tok = AutoTokenizer.from_pretrained(project / "data" / "tokenizer")
    assert len(tok) == first["vocab_size"] == 1024
    text = "The quick brown fox jumps over the lazy dog."
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]).replace(" ", "") == text.replace(" ", "")
    if objective == "mlm":
        enc = tok("first segment", "second one")
        assert enc["input_ids"][0] == tok.cls_token_id and enc["input_ids"][-1] == tok.sep_token_id
        assert set(enc["token_type_ids"]) == {0, 1}
        assert tok.mask_token == "[MASK]"
    else:
        assert tok.eos_token == "<|endoftext|>"


def test_wordpiece_is_bert_style_and_loadable(project, shared_data):
    make_corpus(project, shared_data)
    run_stage("tokenizer", SMALL + ["tokenizer.algorithm=wordpiece"], PARAMS)
    tok = AutoTokenizer.from_pretrained(project / "data" / "tokenizer")
    assert any(t.startswith("##") for t in tok.get_vocab())
    assert tok.decode(tok("unbelievably small")["input_ids"], skip_special_tokens=True) == "unbelievably small"


def test_token_shards_match_tokenizer(project, shared_data):
    make_corpus(project, shared_data)
    metrics = run_stage("tokenizer", SMALL + ["tokenizer.shard_tokens=500000"], PARAMS)
    tokens = project / "data" / "tokens"
    index = json.loads((tokens / "index.json").read_text())
    assert index["dtype"] == "uint16" and index["vocab_size"] == 1024
    train = index["splits"]["train"]
    assert len(train["shards"]) > 1, "shard_tokens should roll over to new shards"
    assert train["docs"] + index["splits"]["val"]["docs"] == 10033
    assert metrics["train_tokens"] == train["tokens"] == sum(s["tokens"] for s in train["shards"])
    ids = np.fromfile(tokens / train["shards"][0]["file"], dtype=np.uint16)
    assert ids.size == train["shards"][0]["tokens"]
    assert (ids == index["separator_id"]).sum() == train["shards"][0]["docs"]  # one separator per doc
    # The first document of the stream, re-encoded, is the head of the first shard.
    tok = AutoTokenizer.from_pretrained(project / "data" / "tokenizer")
    first_text = next(t for i, t in zip(*next(corpus.iter_batches(sorted((project / "data/curated/docs").glob("*")))))
                      if not corpus.is_validation(i, 0.02))
    expect = tok(first_text, add_special_tokens=False)["input_ids"]
    assert ids[: len(expect)].tolist() == expect


def test_missing_shards_is_one_line_error(project):
    with pytest.raises(InputError, match=r"docs/\*\.parquet: no parquet shards found"):
        run_stage("tokenizer", SMALL, PARAMS)


def test_empty_shards_is_one_line_error(project):
    docs = project / "data" / "curated" / "docs"
    docs.mkdir(parents=True)
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}),
                   docs / "empty.parquet")
    with pytest.raises(InputError, match="hold no documents") as err:
        run_stage("tokenizer", SMALL, PARAMS)
    assert "\n" not in str(err.value)
    assert not (project / "data" / "tokens").exists()


def test_mixture_repeats_and_subsamples_by_source():
    from pipeline.tokenizer.mixture import Mixture, passes

    mix = Mixture({"wiki*": 2.0, "books": 0.25, "web": 0})
    assert mix.factor("wiki_extract") == 2.0 and mix.factor("news") == 1.0
    ids = {s: [f"{s}/{i}" for i in range(4000)] for s in ("wiki_extract", "books", "web", "news")}
    assert {mix.copies(i) for i in ids["wiki_extract"]} == {2}
    assert {mix.copies(i) for i in ids["web"]} == {0}
    kept = sum(mix.copies(i) for i in ids["books"])
    assert 900 < kept < 1100 and kept == sum(mix.copies(i) for i in ids["books"])  # stable coin
    for source, doc_ids in ids.items():
        for i in doc_ids:
            mix.count(i, 10, mix.copies(i))
    summary = mix.summary()
    assert summary["wiki_extract"]["stream_tokens"] == 2 * summary["wiki_extract"]["unique_tokens"] == 80000
    assert summary["web"]["stream_tokens"] == 0
    # Drawing as many tokens as the stream holds: two passes over wiki, one over news, 1/4 over books.
    p = passes(summary, sum(r["stream_tokens"] for r in summary.values()))
    assert p["wiki_extract"] == 2.0 and p["news"] == 1.0 and abs(p["books"] - kept / 4000) < 1e-3


def test_mixture_factor_must_not_be_negative():
    with pytest.raises(ConfigError, match="tokenizer: mixture.books: a repeat factor must be >= 0"):
        run_stage("tokenizer", ["tokenizer.mixture={books: -1}"], PARAMS)


def test_stage_writes_the_mixture_into_the_stream(project, shared_data):
    make_corpus(project, shared_data)
    once = run_stage("tokenizer", SMALL, PARAMS)
    twice = run_stage("tokenizer", SMALL + ["tokenizer.mixture={'*': 2.0}"], PARAMS)
    assert twice["train_tokens"] == 2 * once["train_tokens"] and twice["val_tokens"] == once["val_tokens"]
    index = json.loads((project / "data" / "tokens" / "index.json").read_text())
    (row,) = index["mixture"].values()  # the leads' ids carry no source prefix: one group
    assert row["stream_tokens"] == 2 * row["unique_tokens"] == twice["train_tokens"]
