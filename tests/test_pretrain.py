"""pretrain stage: data, masking, schedule, checkpoint checks, the stage end to end, bad input."""
from __future__ import annotations

import shutil
import sys

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


@pytest.mark.parametrize("family", ["bert", "modernbert", "lmpipe"])
def test_sparse_prediction_loss_equals_dense(family):
    """The decoder on the masked positions only (sparse.SparseMLM, as the trainer runs it) gives
    the full-logits loss, summed the same way."""
    from pipeline.pretrain.loss import loss_sums
    from pipeline.pretrain.model import build_model
    from pipeline.pretrain.sparse import SparseMLM, predicted_rows

    cfg = Config(arch=Arch(family=family, hidden_size=32, layers=2, heads=2, dropout=0.0), seq_len=32)
    torch.manual_seed(0)
    model = build_model(cfg, 1000, SP).eval()
    batch = examples(n=4, seq_len=32).batch([0, 1, 2, 3])
    sparse = loss_sums(SparseMLM(model), predicted_rows(batch))["lm"]
    logits = model(input_ids=batch["input_ids"]).logits  # without labels every model gives every token's
    dense = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), reduction="sum")
    assert (batch["labels"] != IGNORE).sum() > 10
    assert sparse.item() == pytest.approx(dense.item(), rel=1e-5)


def test_modernbert_mlm_exports_a_classifier(project, tokenized):
    metrics = run_stage("pretrain", ["profile=tiny", "pretrain.max_steps=30", *token_paths(tokenized)], PARAMS)
    assert metrics["model_class"] == "ModernBertForMaskedLM"
    # One source, no mixture: the passes over it are the epochs over the stream
    (passes,) = metrics["passes_per_source"].values()
    assert abs(passes - metrics["epochs"]) < 0.01 * metrics["epochs"] + 1e-3
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


# ------------------------------------------------------------------------------ objectives

def _train(cfg: Config, stream, steps: int, vocab: int = 1000, ckpt_dir=None):
    """A Trainer on `stream` (one process, seeded); returns it after `steps` optimizer steps."""
    from pipeline.pretrain.dist import Dist
    from pipeline.pretrain.model import build_model
    from pipeline.pretrain.trainer import Trainer

    sp = Specials(pad=0, cls=2, sep=3, mask=4, vocab_size=vocab)
    data = Examples(stream, cfg, sp, seed=7, shuffle=True)
    torch.manual_seed(0)
    trainer = Trainer(cfg, Dist(), build_model(cfg, vocab, sp), data, data, ckpt_dir, 1.0, 0.0)
    trainer.losses = []
    for _ in range(steps):
        trainer.losses.append(trainer.read_back([trainer.train_step()])[0][0])
        trainer.step += 1
    return trainer


class RepeatStream(FakeStream):
    """Each window one random token repeated: a replaced token is the one unlike its neighbours,
    which a tiny discriminator learns to spot within a few hundred steps (it does not learn
    counting sequences, nor MLM them, in that time: the unigram plateau)."""

    def __init__(self, n: int, length: int):
        self.rows = np.repeat(np.random.default_rng(0).integers(5, 55, (n, 1)), length, axis=1)


def electra_cfg(**kw) -> Config:
    from pipeline.pretrain.config import Electra

    return Config(objective="electra", arch=Arch(family="electra", hidden_size=32, layers=2, heads=2, dropout=0.0),
                  seq_len=32, batch_size=8, max_steps=300, warmup_steps=10, lr=2e-3, precision="fp32",
                  electra=Electra(generator_hidden_fraction=0.5), **kw)


def test_default_mlm_losses_unchanged():
    """The ModernBERT MLM path at mlm_probability 0.15 gives the losses it gave before the masking
    rate became a parameter and ELECTRA was added (recorded from that code, torch 2.13 /
    transformers 5.24, fp32, 1 thread; tolerance for other CPUs' float rounding, far below what
    any change of masking or loss normalization moves). A vocabulary of 1,024, a multiple of 64,
    which the vocabulary padding leaves as it is (re-recorded when the padding came, from the code
    before it; the 1,000-token figures had held until then)."""
    torch.set_num_threads(1)
    cfg = Config(arch=Arch(family="modernbert", hidden_size=32, layers=2, heads=2, dropout=0.0), seq_len=32,
                 batch_size=8, max_steps=10, warmup_steps=2, precision="fp32")
    trainer = _train(cfg, FakeStream(64, window_length(cfg)[0]), 6, vocab=1024)
    before = [6.930024, 6.951255, 6.955346, 6.949699, 6.920973, 6.928974]
    assert trainer.losses == pytest.approx(before, rel=1e-5, abs=0)
    assert trainer.evaluate() == pytest.approx({"val_loss": 6.882491907033954, "val_ppl": 975.05307657983}, rel=1e-5)


READ_BACKS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__")


@pytest.mark.parametrize("family", ["modernbert", "lmpipe"])
def test_train_steps_read_nothing_back_between_log_steps(monkeypatch, tmp_path, family):
    """Issue 16: on a GPU each read-back (float(loss), int(count), isfinite) makes the host wait
    for the device. Every Tensor-to-Python conversion that pipeline code makes is recorded while
    fit() runs 7 steps at log_every 5: none may come from a train step (the host-side batch
    building, on host tensors, excepted), and the one read_back runs at steps 5 and 7 only."""
    from pipeline.pretrain import trainer as trainer_module

    cfg = Config(arch=Arch(family=family, hidden_size=32, layers=2, heads=2, dropout=0.0), seq_len=32,
                 batch_size=8, grad_accum=2, max_steps=7, warmup_steps=2, precision="fp32", log_every=5,
                 eval_every=100, checkpoint_every=100, keep_checkpoints=1)
    trainer = _train(cfg, FakeStream(64, window_length(cfg)[0]), 0, ckpt_dir=tmp_path)
    where = {"in": None}
    seen: list[tuple[str | None, str]] = []  # (the Trainer method running, the converting function)
    for name in READ_BACKS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, **kwargs):
            caller = sys._getframe(1).f_code
            if "/pipeline/" in caller.co_filename:
                seen.append((where["in"], caller.co_name))
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counting)

    def marked(method):
        def run(*args, **kwargs):
            outer, where["in"] = where["in"], method.__name__
            try:
                return method(*args, **kwargs)
            finally:
                where["in"] = outer
        return run
    for method in ("train_step", "micro_batches", "read_back", "evaluate", "save_checkpoint"):
        monkeypatch.setattr(trainer, method, marked(getattr(trainer, method)))
    steps_read = []
    read_back = trainer.read_back
    monkeypatch.setattr(trainer, "read_back", lambda figures: steps_read.append(trainer.step) or read_back(figures))
    trainer.fit()
    assert not [s for s in seen if s[0] == "train_step"], seen
    assert steps_read == [5, 7]
    assert [step for step, _, _ in trainer.history.train] == list(range(1, 8))
    assert {s[0] for s in seen} <= {"micro_batches", "read_back", "evaluate", "save_checkpoint"}


@pytest.mark.parametrize("rate", [0.15, 0.4])
def test_mlm_probability_sets_the_masked_share(rate):
    cfg = Config(mlm_probability=rate, seq_len=128)
    batch = Examples(FakeStream(400, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True).batch(list(range(400)))
    predicted = batch["labels"] != IGNORE
    share = float(predicted[:, 1:-1].float().mean())  # of the 126 maskable tokens ([CLS]/[SEP] never are)
    assert abs(share - rate) < 0.01, share
    masked = ((batch["input_ids"] == SP.mask) & predicted).sum() / predicted.sum()
    assert 0.78 < masked < 0.82


def test_replacement_split_is_configurable():
    """ELECTRA's code: 85% [MASK], no random tokens, 15% left as they are."""
    cfg = Config(mask_replace_prob=0.85, random_replace_prob=0.0)
    batch = Examples(FakeStream(200, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True).batch(list(range(200)))
    ids, labels = batch["input_ids"], batch["labels"]
    predicted = labels != IGNORE
    masked, kept = ((ids == SP.mask) & predicted).sum(), ((ids == labels) & predicted).sum()
    assert masked + kept == predicted.sum()  # no random replacements
    assert 0.82 < masked / predicted.sum() < 0.88
    with pytest.raises(ValueError, match="must be two shares of 1"):
        Config(mask_replace_prob=0.8, random_replace_prob=0.3)


def test_disc_labels_mark_tokens_that_differ_from_the_original():
    from pipeline.pretrain.electra import corrupt

    original = torch.tensor([[2, 10, 11, 12, 13, 14, 3]])
    # positions 1-4 predicted: 1 and 2 were [MASK]ed, 3 got a random token, 4 was kept as is;
    # position 5 is not predicted (its input is the original)
    inputs = torch.tensor([[2, 4, 4, 99, 13, 14, 3]])
    labels = torch.tensor([[IGNORE, 10, 11, 12, 13, IGNORE, IGNORE]])
    sampled = torch.tensor([10, 50, 12, 60])  # equal, differs, equal (to the original, not the random 99), differs
    fake, replaced = corrupt(inputs, labels, sampled)
    assert fake.tolist() == [[2, 10, 50, 12, 60, 14, 3]]
    assert replaced.tolist() == [[False, False, True, False, True, False, False]]
    assert torch.equal(replaced, fake != original)


def test_generator_samples_follow_its_softmax():
    from pipeline.pretrain.electra import sample

    probs = torch.tensor([0.6, 0.3, 0.1, 0.0])
    logits = probs.clamp_min(1e-12).log().expand(20000, 4)
    freq = torch.bincount(sample(logits, torch.Generator().manual_seed(0)), minlength=4) / 20000
    assert torch.allclose(freq, probs, atol=0.015), freq


def test_electra_shares_embeddings_and_its_loss_falls(tmp_path):
    torch.set_num_threads(1)
    cfg = electra_cfg()
    trainer = _train(cfg, RepeatStream(64, window_length(cfg)[0]), 300, vocab=200, ckpt_dir=tmp_path)
    model = trainer.model
    table = model.discriminator.get_input_embeddings().weight
    assert model.generator.get_input_embeddings().weight is table
    assert model.generator.get_output_embeddings().weight is table  # generator's decoder tied to it
    assert model.generator.config.hidden_size == 16 and model.generator.config.num_hidden_layers == 2
    first, last = np.mean(trainer.losses[:10]), np.mean(trainer.losses[-10:])
    assert last < first - 25, (first, last)  # ~40 -> ~7: 50 x disc 0.69 -> 0.07, gen 5.3 -> 3.3
    val = trainer.evaluate()
    assert val["val_loss"] == pytest.approx(val["val_gen_loss"] + 50 * val["val_disc_loss"])
    # ~14% of the tokens are replaced: calling all of them original scores 0.86; measured 0.99
    assert val["val_disc_acc"] > 0.95 and val["val_disc_loss"] < 0.2 and val["val_gen_loss"] < 4.5, val
    assert trainer.evaluate() == val  # evaluation draws its own replacements, the same every time


def test_electra_resumes_bit_for_bit(tmp_path):
    """The checkpoint carries the RNG the generator samples with: 4 + 4 steps equal 8."""
    torch.set_num_threads(1)
    cfg = electra_cfg(keep_checkpoints=1)
    stream = RepeatStream(64, window_length(cfg)[0])
    straight = _train(cfg, stream, 8, vocab=200).losses
    first = _train(cfg, stream, 4, vocab=200, ckpt_dir=tmp_path)
    first.save_checkpoint()
    second = _train(cfg, stream, 0, vocab=200, ckpt_dir=tmp_path)
    from pipeline.pretrain import checkpoint

    second.resume(checkpoint.latest(tmp_path))
    for _ in range(4):
        second.losses.append(second.read_back([second.train_step()])[0][0])
        second.step += 1
    assert first.losses + second.losses == straight


def test_electra_exports_a_classifier(project, tokenized):
    from safetensors.torch import load_file
    from transformers import ElectraForSequenceClassification

    from pipeline.finetune.models import build_model as finetune_model

    # ELECTRA masks 15% (Clark et al. 2020), not the MLM profiles' 40%
    sets = ["profile=tiny", "pretrain.max_steps=30", "pretrain.objective=electra", "pretrain.arch.family=electra",
            "pretrain.mlm_probability=0.15"]
    metrics = run_stage("pretrain", [*sets, *token_paths(tokenized)], PARAMS)
    assert metrics["model_class"] == "ElectraForPreTraining"
    assert metrics["exported_params"] < metrics["params"]  # the generator is not exported
    assert metrics["mfu"] > 0 and metrics["val_disc_loss"] < 0.69 and 0.5 < metrics["val_disc_acc"] < 1
    curve = read_tsv(project / "plots" / "pretrain_loss.tsv")
    first, last = (np.mean([row[1] for row in rows]) for rows in (curve[:5], curve[-5:]))
    assert last < first - 2, "loss must fall"
    header = (project / "plots" / "pretrain_val.tsv").read_text().splitlines()[0].split("\t")
    assert header == ["step", "val_loss", "val_ppl", "val_gen_loss", "val_disc_loss", "val_disc_acc"]

    out = project / "data" / "model"
    saved = load_file(out / "model.safetensors")
    assert not any(k.startswith("generator") for k in saved)
    clf = AutoModelForSequenceClassification.from_pretrained(out, num_labels=2)
    assert isinstance(clf, ElectraForSequenceClassification)
    encoder = {f"electra.{k}": v for k, v in clf.electra.state_dict().items() if k in
               {n.removeprefix("electra.") for n in saved}}
    assert len(encoder) == len([k for k in saved if k.startswith("electra.")]) > 10
    for name, weight in encoder.items():
        assert torch.equal(weight, saved[name]), name
    tok = AutoTokenizer.from_pretrained(out)
    enc = tok("a", "b", return_tensors="pt")
    assert "token_type_ids" in enc  # ELECTRA has segment embeddings
    clf(**enc, labels=torch.tensor([1])).loss.backward()
    # what the finetune stage builds from it
    tuned = finetune_model(out, "pretrained", 2, seed=0)
    assert isinstance(tuned, ElectraForSequenceClassification)
    assert torch.equal(tuned.electra.embeddings.word_embeddings.weight, saved["electra.embeddings.word_embeddings.weight"])


def test_electra_config_checks():
    with pytest.raises(ConfigError, match="objective: electra does not fit arch.family=modernbert"):
        run_stage("pretrain", ["pretrain.objective=electra"], PARAMS)
    with pytest.raises(ConfigError, match="electra.generator_hidden_fraction: 0.0 must be in"):
        run_stage("pretrain", ["pretrain.objective=electra", "pretrain.arch.family=electra",
                               "pretrain.electra.generator_hidden_fraction=0"], PARAMS)


def test_device_setting_picks_the_device_or_fails_in_one_line():
    from pipeline.pretrain import dist

    assert dist.setup("cpu").device == torch.device("cpu")  # even on a GPU host
    assert dist.setup("auto").device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        assert dist.setup("cuda").device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32
    else:
        with pytest.raises(ConfigError, match=r"^pretrain.device: cuda, but torch .* sees no CUDA device") as err:
            dist.setup("cuda")
        assert "\n" not in str(err.value)


def test_measured_matmul_peak_is_below_the_datasheet_and_leaves_the_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    measured = hardware.measured_peak("fp32")
    assert torch.equal(torch.rand(3), expected)
    datasheet, _ = hardware.cpu_peak("fp32")
    assert 1e9 < measured < datasheet * 1.05  # a real rate, under what the silicon could do
    assert hardware.measured_peak("fp32", processes=2) > measured  # each process its own share
