"""pretrain stage: data, masking, schedule, checkpoint checks, the stage end to end, bad input."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer

from pipeline.errors import ConfigError, InputError
from pipeline.pretrain import Arch, Config, hardware
from pipeline.pretrain.data import IGNORE, Examples, Specials, window_length
from pipeline.pretrain.optim import lr_factor
from pipeline.runner import run_stage
from pretrain_helpers import PARAMS, read_tsv, token_paths, tokenize

SP = Specials(pad=0, cls=2, sep=3, mask=4, vocab_size=1000)


class FakeStream:
    """A token stream of random ids: the masking logic does not depend on where tokens come from."""

    def __init__(self, n: int, length: int):
        self.rows = np.random.default_rng(0).integers(5, 1000, (n, length))

    def __len__(self):
        return len(self.rows)

    def window(self, i):
        return self.rows[i]


def examples(pair="none", n=64, seq_len=128) -> Examples:
    cfg = Config(pair_objective=pair, seq_len=seq_len)
    return Examples(FakeStream(n, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True)


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory, shared_data):
    return tokenize(tmp_path_factory.mktemp("tok"), shared_data)


def test_masking_follows_bert_80_10_10():
    ex = examples(n=400)
    batch = ex.batch(list(range(400)))
    ids, labels = batch["input_ids"], batch["labels"]
    predicted = labels != IGNORE
    assert 0.14 < predicted.float().mean() < 0.16
    masked = (ids == SP.mask) & predicted
    kept = (ids == labels) & predicted
    assert 0.78 < masked.sum() / predicted.sum() < 0.82
    assert 0.08 < kept.sum() / predicted.sum() < 0.12
    assert not predicted[:, 0].any() and not predicted[:, -1].any()  # [CLS] / [SEP] never predicted
    assert (ids[:, 0] == SP.cls).all() and ids.shape[1] == 128


def test_examples_depend_only_on_their_index():
    ex = examples()
    whole = ex.batch(list(range(8)))
    halves = [ex.batch([0, 1, 2, 3]), ex.batch([4, 5, 6, 7])]
    for key in whole:
        assert torch.equal(whole[key], torch.cat([h[key] for h in halves]))
    assert not torch.equal(ex.batch([64])["input_ids"], ex.batch([0])["input_ids"])  # new epoch, new order


@pytest.mark.parametrize("pair", ["sop", "nsp"])
def test_sentence_pair_layout(pair):
    batch = examples(pair).batch(list(range(64)))
    ids, types, label = batch["input_ids"], batch["token_type_ids"], batch["pair_label"]
    assert ids.shape[1] == 128 and 0.3 < label.float().mean() < 0.7
    for row, tt, lab in zip(ids, types, batch["labels"]):
        seps = ((row == SP.sep) & (lab == IGNORE)).nonzero().flatten().tolist()  # not random replacements
        assert len(seps) == 2 and seps[1] == 127
        assert (tt[: seps[0] + 1] == 0).all() and (tt[seps[0] + 1:] == 1).all()


def test_lr_schedule_warms_up_then_decays_to_floor():
    cfg = Config(max_steps=100, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(0, cfg) == pytest.approx(0.1) and lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(55, cfg) == pytest.approx(0.55)
    assert lr_factor(100, cfg) == pytest.approx(0.1)
    linear = Config(max_steps=100, warmup_steps=10, min_lr_ratio=0.0, schedule="linear")
    assert lr_factor(55, linear) == pytest.approx(0.5)


def test_config_rejects_inconsistent_objective():
    with pytest.raises(ConfigError, match="pretrain: objective: clm does not fit arch.family=modernbert"):
        run_stage("pretrain", ["pretrain.objective=clm"], PARAMS)
    with pytest.raises(ConfigError, match="pair_objective: sop needs arch.family=bert"):
        run_stage("pretrain", ["pretrain.pair_objective=sop"], PARAMS)
    with pytest.raises(ConfigError, match="arch.hidden_size: 30 is not divisible"):
        run_stage("pretrain", ["pretrain.arch.hidden_size=30"], PARAMS)


def test_cpu_peak_is_derived_from_isa():
    peak, how = hardware.cpu_peak("fp32")
    if peak:
        assert "cores x" in how and peak > 1e9


def test_bert_sop_trains_and_exports(project, tokenized):
    bert = ["pretrain.arch.family=bert", "pretrain.pair_objective=sop"]
    metrics = run_stage("pretrain", ["profile=tiny", "pretrain.max_steps=30", *bert, *token_paths(tokenized)], PARAMS)
    out = project / "data" / "model"
    assert (out / "model.safetensors").exists() and not (out / "checkpoints").exists()
    assert not (project / "data" / "model.partial").exists()
    curve = read_tsv(project / "plots" / "pretrain_loss.tsv")
    assert [row[0] for row in curve] == list(range(1, 31))
    first, last = (np.mean([row[1] for row in rows]) for rows in (curve[:5], curve[-5:]))
    assert last < first - 0.2, "loss must fall"
    assert metrics["val_loss"] == pytest.approx(read_tsv(project / "plots" / "pretrain_val.tsv")[-1][1])
    assert metrics["steps"] == 30 and metrics["tokens_per_s"] > 0 and metrics["mfu"] > 0

    mlm = AutoModelForMaskedLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    enc = tok("Paris is the capital of [MASK].", return_tensors="pt")
    assert mlm(**enc).logits.shape[-1] == len(tok)
    clf = AutoModelForSequenceClassification.from_pretrained(out, num_labels=2)
    clf(**tok("a", "b", return_tensors="pt"), labels=torch.tensor([1])).loss.backward()
    # The trained encoder weights, not fresh ones, are what fine-tuning starts from.
    assert torch.equal(clf.bert.embeddings.word_embeddings.weight, mlm.bert.embeddings.word_embeddings.weight)


def test_sparse_prediction_loss_equals_dense():
    """ModernBERT's decoder on masked positions only gives the full-logits loss, summed the same way."""
    from pipeline.pretrain.loss import loss_sums
    from pipeline.pretrain.model import build_model

    cfg = Config(arch=Arch(family="modernbert", hidden_size=32, layers=2, heads=2, dropout=0.0), seq_len=32)
    torch.manual_seed(0)
    model = build_model(cfg, 1000, SP).eval()
    batch = examples(n=4, seq_len=32).batch([0, 1, 2, 3])
    sparse, _ = loss_sums(model, batch)
    model.sparse_prediction = False
    logits = model(input_ids=batch["input_ids"]).logits
    dense = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), reduction="sum")
    assert (batch["labels"] != IGNORE).sum() > 10
    assert sparse.item() == pytest.approx(dense.item(), rel=1e-5)


def test_modernbert_mlm_exports_a_classifier(project, tokenized):
    metrics = run_stage("pretrain", ["profile=tiny", "pretrain.max_steps=30", *token_paths(tokenized)], PARAMS)
    assert metrics["model_class"] == "ModernBertForMaskedLM"
    curve = read_tsv(project / "plots" / "pretrain_loss.tsv")
    first, last = (np.mean([row[1] for row in rows]) for rows in (curve[:5], curve[-5:]))
    assert last < first - 0.2, "loss must fall"
    out = project / "data" / "model"
    tok = AutoTokenizer.from_pretrained(out)
    enc = tok("a", "b", return_tensors="pt")
    assert "token_type_ids" not in enc  # ModernBERT has no segment embeddings
    mlm = AutoModelForMaskedLM.from_pretrained(out)
    clf = AutoModelForSequenceClassification.from_pretrained(out, num_labels=2)
    assert clf.config.classifier_pooling == "mean"
    clf(**enc, labels=torch.tensor([1])).loss.backward()
    assert torch.equal(clf.model.embeddings.tok_embeddings.weight, mlm.model.embeddings.tok_embeddings.weight)
    assert torch.equal(clf.head.dense.weight, mlm.head.dense.weight)


def test_causal_lm_llama(tmp_path_factory, shared_data, project):
    clm = tokenize(tmp_path_factory.mktemp("clm"), shared_data, "tokenizer.algorithm=bpe", "tokenizer.objective=clm")
    from transformers import AutoModelForCausalLM

    sets = ["profile=tiny", "pretrain.objective=clm", "pretrain.pair_objective=none",
            "pretrain.arch.family=llama", "pretrain.arch.kv_heads=1", *token_paths(clm)]
    metrics = run_stage("pretrain", sets, PARAMS)
    assert metrics["model_class"] == "LlamaForCausalLM" and metrics["val_loss"] < 7.0
    model = AutoModelForCausalLM.from_pretrained(project / "data" / "model")
    assert model.config.num_key_value_heads == 1


# ------------------------------------------------------------------------------ bad input

def test_vocab_mismatch(project, tokenized):
    with pytest.raises(ConfigError, match=r"pretrain.arch.vocab_size: 999 does not match the tokenizer .* \(1024 tokens\)"):
        run_stage("pretrain", ["profile=tiny", "pretrain.arch.vocab_size=999", *token_paths(tokenized)], PARAMS)


def test_objective_mismatch(project, tokenized):
    sets = ["profile=tiny", "pretrain.objective=clm", "pretrain.pair_objective=none",
            "pretrain.arch.family=gpt2", *token_paths(tokenized)]
    with pytest.raises(ConfigError, match="pretrain.objective: clm, but the tokenizer was built for mlm"):
        run_stage("pretrain", sets, PARAMS)


def test_missing_and_truncated_shards(project, tokenized):
    tokens = project / "tokens"
    shutil.copytree(tokenized / "data" / "tokens", tokens)
    sets = ["profile=tiny", f"paths.tokenizer={tokenized / 'data' / 'tokenizer'}", f"paths.tokens={tokens}"]
    shard = tokens / "train_00000.bin"
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(InputError, match=r"train_00000.bin: holds 500 tokens, index.json says \d+"):
        run_stage("pretrain", sets, PARAMS)
    shard.unlink()
    with pytest.raises(InputError, match="train_00000.bin: token shard listed in index.json is missing"):
        run_stage("pretrain", sets, PARAMS)
    (tokens / "index.json").unlink()
    with pytest.raises(InputError, match=r"index.json: not found \(run the tokenizer stage first\)"):
        run_stage("pretrain", sets, PARAMS)


def test_batch_not_divisible(project, tokenized, capsys):
    from pipeline.__main__ import main

    rc = main(["pretrain", "--params", PARAMS, "--set", "profile=tiny", "--set", "pretrain.grad_accum=3",
               *[a for s in token_paths(tokenized) for a in ("--set", s)]])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err == "lmpipe pretrain: error: pretrain.batch_size: 8 does not divide across 1 processes x 3 accumulation steps"


def test_resume_with_other_config(project, tokenized):
    base = ["profile=tiny", "pretrain.keep_final_checkpoint=true", *token_paths(tokenized)]
    run_stage("pretrain", base, PARAMS)
    # What a killed run leaves: checkpoints in the output's work directory.
    (project / "data" / "model.partial").mkdir(parents=True)
    shutil.move(project / "data" / "model" / "checkpoints", project / "data" / "model.partial" / "checkpoints")
    with pytest.raises(ConfigError, match=r"was made with another config \(arch: .* set pretrain.resume=false"):
        run_stage("pretrain", [*base, "pretrain.arch.layers=1"], PARAMS)
    # Logging cadence is not part of the training config: resuming the finished run just exports it.
    metrics = run_stage("pretrain", [*base, "pretrain.log_every=2"], PARAMS)
    assert metrics["resumed_from_step"] == 20
    metrics = run_stage("pretrain", [*base, "pretrain.arch.layers=1", "pretrain.resume=false"], PARAMS)
    assert metrics["resumed_from_step"] == 0
