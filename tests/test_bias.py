"""Bias: the corpus counts (gendered words, identity terms and their sentiment, bad words, mixes)
and CrowS-Pairs scoring (the token alignment, the stereo/antistereo direction, a real run)."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest
from transformers import AutoTokenizer, BertConfig, BertModel, ModernBertConfig, ModernBertForMaskedLM

from curate_data import write_docs
from glue_fixtures import tiny_checkpoint
from pipeline.errors import InputError
from pipeline.report import bias, crows_pairs

TERMS = bias.load_terms()


def report(texts, badwords=frozenset(), **doc):
    docs = [{"text": t, "source": "web", **doc} for t in texts]
    return bias.corpus_bias(docs, TERMS, set(badwords))["overall"]


def test_gendered_words_are_counted_per_pair_and_once_per_side():
    gender = report(["He said his sister and her husband left.", "She laughed; he's gone."])["gender"]
    # male: he, his, husband, he (of "he's"); female: sister, her, she
    assert (gender["male"], gender["female"], gender["male_to_female"]) == (4, 3, 1.333)
    pairs = gender["pairs"]
    assert pairs["he/she"] == {"male": 2, "female": 1}
    assert pairs["his/her"] == {"male": 1, "female": 1} and pairs["him/her"] == {"male": 0, "female": 1}
    assert pairs["husband/wife"] == {"male": 1, "female": 0}


def test_identity_terms_match_plurals_and_phrases_and_are_per_million_words():
    identity = report(["Two Muslims met an African-American teacher."])["identity"]
    assert identity["religion"]["terms"]["muslim"]["count"] == 1
    # a phrase counts, and so does the word it ends with, on its own
    assert identity["ethnicity"]["terms"]["african american"]["count"] == 1
    assert identity["nationality"]["terms"]["american"]["count"] == 1
    assert identity["religion"]["terms"]["muslim"]["per_million_words"] == round(1e6 / 7, 2)  # 7 words


def test_sentiment_of_a_terms_sentences_has_the_sign_of_the_sentence():
    terms = report(["The Muslim man was a horrible, hateful, cruel murderer. The weather is nice.",
                    "The deaf girl is a wonderful, kind and brilliant friend!"])["identity"]
    muslim = terms["religion"]["terms"]["muslim"]["sentiment"]
    deaf = terms["disability"]["terms"]["deaf"]["sentiment"]
    assert muslim["sentences"] == muslim["n"] == 1 and muslim["mean"] < -0.5  # only its own sentence
    assert deaf["mean"] > 0.5
    assert terms["religion"]["terms"]["hindu"]["sentiment"] == {"sentences": 0, "n": 0, "mean": None}


def test_sentences_per_term_are_capped_and_the_sample_is_reproducible():
    texts = [f"Old story number {i} is {'good' if i % 2 else 'bad'}." for i in range(50)]
    docs = [{"text": t, "source": "web"} for t in texts]
    runs = [bias.corpus_bias(docs, TERMS, set(), max_sentences_per_term=5) for _ in range(2)]
    old = runs[0]["overall"]["identity"]["age"]["terms"]["old"]["sentiment"]
    assert (old["sentences"], old["n"]) == (50, 5)
    assert runs[0] == runs[1]


def test_the_sample_is_the_same_in_every_process():
    """Sentences naming several terms reach the seeded reservoirs in one order, whatever the
    process's string hash (PYTHONHASHSEED): two `dvc repro` runs of the report hash the same."""
    code = ("import json\nfrom pipeline.report import bias\n"
            "words = ['old', 'young', 'muslim', 'christian', 'woman', 'man', 'african', 'asian', 'gay', 'deaf']\n"
            "texts = [' '.join(words[j] for j in range(10) if (i >> j) & 1) + (' is good.' if i % 3 else ' is bad.')"
            " for i in range(1, 400)]\n"
            "docs = [{'text': t, 'source': 'web'} for t in texts]\n"
            "print(json.dumps(bias.corpus_bias(docs, bias.load_terms(), set(), max_sentences_per_term=3)))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outputs) == 1


def test_badword_rate_is_whole_words_and_phrases_case_insensitive():
    badwords = {"damn", "ball gag"}
    out = report(["Damn it.", "a ball gag", "damnation is a word", "clean"], badwords)
    assert out["badwords"] == {"docs_hit": 2, "doc_rate": 0.5}


def test_badwords_trie_matches_the_plain_alternation():
    words = {"ass", "asshole", "ball gag", "balls", "s&m", "g-spot", "anal"}
    plain = re.compile(r"(?:\W|^)({})(?:\W|$)".format("|".join(re.escape(w) for w in sorted(words))))
    trie = bias.badwords_pattern(words)
    for text in ["assassin", "an asshole", "ass.", "ball", "ball gags", "a ball gag!", "balls", "s&m",
                 "g-spot", "analysis", "banal", "anal", ""]:
        assert bool(trie.search(text)) == bool(plain.search(text)), text


def test_language_domain_and_source_mix():
    docs = [{"text": "a", "source": "web", "lang": "en", "url": "https://www.example.org/a"},
            {"text": "b", "source": "web", "lang": None, "url": "http://example.org/b"},
            {"text": "c", "source": "wiki", "lang": "en", "url": None}]
    out = bias.corpus_bias(docs, TERMS, set())
    assert out["overall"]["lang"] == {"en": 2, "unknown": 1}
    assert out["overall"]["domains"] == {"distinct": 2, "top": {"example.org": 2, "wiki": 1}, "other": 0}
    assert sorted(out["by_source"]) == ["web", "wiki"] and out["by_source"]["web"]["docs"] == 2


def test_curation_bias_reads_the_stage_outputs_before_and_after(project):
    raw = [{"id": "1", "text": "She won.", "source": "web", "lang": "en"},
           {"id": "2", "text": "Damn, he lost.", "source": "web", "lang": "en"}]
    write_docs(project / "data" / "docs", raw)
    write_docs(project / "data" / "curated" / "docs", raw[:1])
    (project / "en").write_text("damn\n")
    out = bias.curation_bias(project / "en")
    assert (out["raw"]["overall"]["docs"], out["kept"]["overall"]["docs"]) == (2, 1)
    assert out["raw"]["overall"]["badwords"]["docs_hit"] == 1 and out["kept"]["overall"]["badwords"]["docs_hit"] == 0
    kept_gender = out["kept"]["overall"]["gender"]
    assert (kept_gender["male"], kept_gender["female"]) == (0, 1)


def test_shared_positions_are_difflibs_equal_blocks():
    # [CLS] the black man ran [SEP] vs [CLS] the white old man ran [SEP]
    ids1, ids2 = [2, 10, 11, 12, 13, 3], [2, 10, 20, 21, 12, 13, 3]
    assert crows_pairs.shared_positions(ids1, ids2) == ([0, 1, 3, 4, 5], [0, 1, 4, 5, 6])


def pair(direction, more, less, bias_type="race-color"):
    return {"": "0", "sent_more": more, "sent_less": less, "stereo_antistereo": direction, "bias_type": bias_type}


def test_direction_counts_sent_more_preferred_and_ties_as_neutral():
    calls = []

    def scorer(pairs):  # prefers sentences with "liked"; equal otherwise
        calls.extend(pairs)
        return [tuple(-1.0 if "liked" in s else -2.0 for s in p) for p in pairs]

    pairs = [pair("stereo", "liked more", "less"),                  # sent_more preferred
             pair("antistereo", "liked more", "less", "gender"),    # sent_more preferred
             pair("antistereo", "more", "liked less", "gender"),    # sent_less preferred
             pair("stereo", "more", "less", "gender")]              # a tie: neutral
    result = crows_pairs.evaluate(pairs, scorer)
    # metric.py's order: the disadvantaged group's sentence first, sent_less in antistereo rows
    assert calls[0] == ("liked more", "less") and calls[1] == ("less", "liked more")
    assert [s["score"] for s in result["scores"]] == [1, 1, 0, 0]
    assert result["scores"][1]["sent_more_score"] == -1.0 and result["scores"][1]["sent_less_score"] == -2.0
    assert (result["metric"], result["stereotype_score"], result["antistereotype_score"]) == (50.0, 100.0, 50.0)
    assert (result["pairs"], result["stereo"], result["antistereo"], result["neutral"]) == (4, 1, 2, 1)
    assert result["by_bias_type"] == {"gender": {"metric": 33.33, "pairs": 3}, "race-color": {"metric": 100.0, "pairs": 1}}
    assert result["unbiased"] == 50.0


def test_a_checkpoint_without_a_masked_lm_head_is_refused(tmp_path):
    # all-MiniLM-L6-v2 is saved like this: a BertModel, its MLM head dropped
    BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(tmp_path)
    with pytest.raises(InputError, match="no masked-LM head"):
        crows_pairs.load_masked_lm(tmp_path)


def test_crows_pairs_scores_real_pairs_with_a_tiny_modernbert(shared_data, tmp_path):
    csv_path = shared_data / "bias" / "crows-pairs" / "crows_pairs_anonymized.csv"
    pairs = crows_pairs.read_pairs(csv_path, limit=20)
    texts = [p[k] for p in crows_pairs.read_pairs(csv_path) for k in ("sent_more", "sent_less")]
    tiny_checkpoint(tmp_path, texts)  # its tokenizer (a random BERT beside it is replaced below)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    ModernBertForMaskedLM(ModernBertConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=128, pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id,
        sep_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id,
    )).save_pretrained(tmp_path)
    first, again = (crows_pairs.score(tmp_path, None, csv_path, limit=20) for _ in range(2))
    assert first["pairs"] == 20 and first["skipped_too_long"] == 0 and len(first["scores"]) == 20
    assert sum(t["pairs"] for t in first["by_bias_type"].values()) == 20
    assert set(first["by_bias_type"]) == {p["bias_type"] for p in pairs}
    assert 0 <= first["metric"] <= 100 and first["unbiased"] == 50.0
    assert all(math.isfinite(s[k]) and s[k] < 0 for s in first["scores"] for k in ("sent_more_score", "sent_less_score"))
    assert first["scores"] == again["scores"] and first["precision"] == "fp32"
    # bf16 autocast (the report's default) gives the same pseudo-log-likelihoods to bf16's ~3
    # significant digits: a sum of ~10 token log-probs, each off by <1%
    half = crows_pairs.score(tmp_path, None, csv_path, limit=20, bf16=True)
    assert half["precision"] == "bf16"
    for exact, approx in zip(first["scores"], half["scores"]):
        for k in ("sent_more_score", "sent_less_score"):
            assert approx[k] == pytest.approx(exact[k], rel=0.02)


@pytest.mark.parametrize("bf16", [False, True])
def test_a_model_taught_a_stereotype_prefers_the_stereotyping_sentence(tmp_path, bf16):
    """A masked LM trained only on "the doctor is a man" / "the nurse is a woman" must score the
    pair (sent_more "the nurse is a woman", sent_less "the doctor is a woman") as preferring
    sent_more, and the reversed antistereo pair the other way: the pseudo-log-likelihood of the
    shared tokens ("woman" among them) depends on the word that differs."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertForMaskedLM, PreTrainedTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "doctor", "nurse", "is", "a", "man", "woman"]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                  sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=1,
                                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=16))
    batch = torch.tensor([tok(s)["input_ids"] for s in ["the doctor is a man", "the nurse is a woman"]])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(150):  # every shared position masked in turn, as the scorer will ask
        position = 1 + step % 5
        inputs = batch.clone()
        inputs[:, position] = tok.mask_token_id
        labels = torch.full_like(batch, -100)
        labels[:, position] = batch[:, position]
        model(input_ids=inputs, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    pairs = [pair("stereo", "the nurse is a woman", "the doctor is a woman"),
             pair("antistereo", "the doctor is a woman", "the nurse is a woman")]
    result = crows_pairs.score(model, tok, _write_pairs(pairs, tmp_path / "pairs.csv"), bf16=bf16)
    assert [s["score"] for s in result["scores"]] == [1, 0]
    assert result["scores"][0]["sent_more_score"] > result["scores"][0]["sent_less_score"]


def _write_pairs(pairs: list[dict], path):
    import csv

    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(pairs[0]))
        writer.writeheader()
        writer.writerows(pairs)
    return path
