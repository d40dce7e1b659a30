"""`arch.family: lmpipe`: the project's own Transformer (pipeline/models) pretrains through the
stage with mlm and clm, and the fine-tuning stage loads what it exports."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.models import LmpipeForCausalLM, LmpipeForMaskedLM, LmpipeForSequenceClassification
from pipeline.pretrain import Arch, Config
from pipeline.runner import run_stage
from pretrain_helpers import PARAMS, read_tsv, token_paths, tokenize


def test_block_choices_belong_to_the_lmpipe_family():
    with pytest.raises(ValueError, match="only family lmpipe"):
        Arch(family="bert", position="rotary")
    Config(objective="clm", arch=Arch(family="lmpipe", position="rotary", activation="geglu", norm_position="pre"))


@pytest.mark.slow
@pytest.mark.parametrize("objective,blocks,model_class", [
    ("mlm", ["pretrain.arch.position=rotary", "pretrain.arch.activation=geglu", "pretrain.arch.norm_position=pre"],
     LmpipeForMaskedLM),
    ("clm", [], LmpipeForCausalLM),
])
def test_lmpipe_family_pretrains_and_fine_tunes(project, tmp_path_factory, shared_data, objective, blocks, model_class):
    from pipeline.finetune.models import build_model

    tokenized = tokenize(tmp_path_factory.mktemp(f"tok-{objective}"), shared_data, f"tokenizer.objective={objective}")
    sets = ["profile=tiny", "pretrain.max_steps=40", f"pretrain.objective={objective}",
            "pretrain.arch.family=lmpipe", *blocks]
    metrics = run_stage("pretrain", [*sets, *token_paths(tokenized)], PARAMS)
    assert metrics["model_class"] == model_class.__name__ and metrics["mfu"] > 0
    curve = read_tsv(project / "plots" / "pretrain_loss.tsv")
    first, last = (np.mean([row[1] for row in rows]) for rows in (curve[:5], curve[-5:]))
    assert last < first - 0.2, "loss must fall"  # clm, 40 steps: 6.94 -> 6.65

    out = project / "data" / "model"
    pretrained = model_class.from_pretrained(out)
    clf = build_model(out, "pretrained", num_labels=2, seed=0)
    assert isinstance(clf, LmpipeForSequenceClassification)
    for name, weight in clf.model.state_dict().items():  # the encoder comes back as trained
        assert torch.equal(weight, pretrained.model.state_dict()[name]), name
    assert clf.config.classifier_pooling == ("last" if objective == "clm" else "mean")
