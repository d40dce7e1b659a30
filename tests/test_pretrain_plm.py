"""pretrain stage, objective plm: XLNet's span targets, factorization order and perm_mask, its
FLOP estimate, and a tiny run end to end that exports a classifier."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, XLNetForSequenceClassification

from pipeline.errors import ConfigError
from pipeline.pretrain import Arch, Config
from pipeline.pretrain.config import Plm
from pipeline.pretrain.data import IGNORE, Examples, plm_predictions, plm_spans, window_length
from pipeline.runner import run_stage
from pretrain_helpers import PARAMS, read_tsv, token_paths, tokenize
from test_pretrain import SP, FakeStream


def plm_cfg(seq_len: int = 128, **kw) -> Config:
    return Config(objective="plm", arch=Arch(family="xlnet", hidden_size=32, layers=2, heads=2, dropout=0.0),
                  seq_len=seq_len, **kw)


def plm_examples(n: int = 64, seq_len: int = 128) -> Examples:
    cfg = plm_cfg(seq_len)
    return Examples(FakeStream(n, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True)


def targets(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, L) bool: the positions some target_mapping row points at."""
    return batch["target_mapping"].sum(1) > 0


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory, shared_data):
    return tokenize(tmp_path_factory.mktemp("tok"), shared_data)


def test_spans_follow_the_collator():
    """Each span is 1..max_span_length tokens inside its own context of int(span / probability)
    positions, the contexts tiling the window from its start."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        spans = plm_spans(128, 1 / 6, 5, rng)
        cur = 0
        for span in spans:
            length = span.stop - span.start
            assert 1 <= length <= 5 and cur <= span.start and span.stop <= cur + 6 * length
            cur += 6 * length
        assert cur >= 128 and cur - 6 * (spans[-1].stop - spans[-1].start) < 128


def test_targets_are_a_sixth_of_the_real_tokens():
    batch = plm_examples(n=400).batch(list(range(400)))
    ids, labels, mapping = batch["input_ids"], batch["labels"], batch["target_mapping"]
    k = plm_predictions(plm_cfg())
    assert mapping.shape == (400, k, 128) and labels.shape == (400, k) and batch["perm_mask"].shape == (400, 128, 128)
    predicted = targets(batch)
    assert 0.155 < predicted[:, 1:-1].float().mean() < 0.175  # of the 126 real tokens; measured 0.167
    assert not predicted[:, 0].any() and not predicted[:, -1].any()  # [CLS] / [SEP] never predicted
    # XLNet reads the real tokens: nothing is replaced by [MASK]
    assert (ids[:, 0] == SP.cls).all() and (ids[:, -1] == SP.sep).all() and not (ids == SP.mask).any()
    # one row per target, in position order, labelled with its token; zero rows labelled IGNORE pad to k
    used = mapping.sum(-1) > 0
    assert torch.equal(used, labels != IGNORE) and (mapping.sum(-1) <= 1).all()
    assert torch.equal(used.sum(1), predicted.sum(1)) and (used[:, :-1] >= used[:, 1:]).all()
    assert torch.equal(labels[used], ids[predicted])


def test_perm_mask_hides_each_target_from_itself_and_what_follows_it():
    batch = plm_examples(n=8).batch(list(range(8)))
    for ids, mask, target in zip(batch["input_ids"], batch["perm_mask"].bool(), targets(batch)):
        special = (ids == SP.cls) | (ids == SP.sep)
        context, hidden = ~target & ~special, target | special
        t = target.nonzero().flatten()
        assert mask[t, t].all()  # a target never sees itself
        assert not mask[:, context].any()  # every position sees the context tokens...
        assert not mask[context][:, context].any() and mask[context][:, hidden].all()  # ...which see only each other
        # Hidden positions (targets and specials) are ordered: of two, the later one sees the earlier
        # and not the other way round.
        eye = torch.eye(int(hidden.sum()), dtype=torch.bool)
        later = mask[hidden][:, hidden] & ~eye
        assert torch.equal(later ^ later.T, ~eye)
        # No token reaches its own prediction through any number of layers: the query stream of
        # i reads the content stream of the positions it sees, each of which holds the tokens of
        # every position reachable from it (a content stream also sees itself).
        sees = (~mask | torch.eye(ids.numel(), dtype=torch.bool)).int()
        reach = sees.clone()
        for _ in range(8):  # paths up to 256 long: more than the 128 positions
            reach = ((reach @ reach) > 0).int()
        leak = ((~mask).int() @ reach) > 0
        assert not leak[target, target.nonzero().flatten()].any()


def test_plm_examples_depend_only_on_their_index():
    ex = plm_examples()
    whole = ex.batch(list(range(8)))
    halves = [ex.batch([0, 1, 2, 3]), ex.batch([4, 5, 6, 7])]
    for key in whole:
        assert torch.equal(whole[key], torch.cat([h[key] for h in halves]))
    again = plm_examples().batch([3])
    assert all(torch.equal(again[key], whole[key][3:4]) for key in whole)
    assert not torch.equal(whole["perm_mask"][0], whole["perm_mask"][1])


def test_plm_config_checks():
    with pytest.raises(ValueError, match="seq_len: 65 must be even for objective=plm"):
        plm_cfg(seq_len=65)
    with pytest.raises(ValueError, match="plm.probability: 0 must be in"):
        Plm(probability=0)
    with pytest.raises(ConfigError, match="objective: plm does not fit arch.family=modernbert"):
        run_stage("pretrain", ["pretrain.objective=plm"], PARAMS)


@pytest.mark.parametrize("hidden,layers,seq_len", [(32, 2, 128), (64, 1, 64), (64, 3, 256)])
def test_flops_estimate_matches_what_xlnet_runs(hidden, layers, seq_len):
    from torch.utils.flop_counter import FlopCounterMode

    from pipeline.pretrain.loss import loss_sums
    from pipeline.pretrain.model import build_model, train_flops_per_token

    cfg = Config(objective="plm", arch=Arch(family="xlnet", hidden_size=hidden, layers=layers, heads=2, dropout=0.0),
                 seq_len=seq_len)
    batch = Examples(FakeStream(2, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True).batch([0, 1])
    model = build_model(cfg, 1000, SP)
    with FlopCounterMode(display=False) as counter:
        loss_sums(model, batch)["lm"].backward()
    measured = counter.get_total_flops() / batch["input_ids"].numel()
    assert train_flops_per_token(model, cfg) == pytest.approx(measured, rel=0.03)  # measured: within 1.5%


def test_xlnet_plm_trains_and_exports_a_classifier(project, tokenized):
    from safetensors.torch import load_file

    sets = ["profile=tiny", "pretrain.max_steps=30", "pretrain.objective=plm", "pretrain.arch.family=xlnet"]
    metrics = run_stage("pretrain", [*sets, *token_paths(tokenized)], PARAMS)
    assert metrics["model_class"] == "XLNetLMHeadModel" and metrics["mfu"] > 0
    curve = read_tsv(project / "plots" / "pretrain_loss.tsv")
    first, last = (np.mean([row[1] for row in rows]) for rows in (curve[:5], curve[-5:]))
    assert last < first - 0.2, "loss must fall"

    out = project / "data" / "model"
    clf = AutoModelForSequenceClassification.from_pretrained(out, num_labels=2)
    assert isinstance(clf, XLNetForSequenceClassification) and clf.config.summary_type == "first"
    saved = load_file(out / "model.safetensors")
    encoder = {f"transformer.{k}": v for k, v in clf.transformer.state_dict().items()}
    assert set(encoder) == {k for k in saved if k.startswith("transformer.")}
    for name, weight in encoder.items():
        assert torch.equal(weight, saved[name]), name
    tok = AutoTokenizer.from_pretrained(out)
    enc = tok("a", "b", return_tensors="pt")
    assert "token_type_ids" in enc and enc["input_ids"][0, 0] == tok.cls_token_id  # summary_type "first" reads [CLS]
    clf(**enc, labels=torch.tensor([1])).loss.backward()
