"""`pair_encoding: bi`: Sentence-BERT heads on the checkpoint's encoder (pipeline/finetune/biencoder.py)."""
import pytest
import torch

from glue_fixtures import tiny_checkpoint
from pipeline.config import build
from pipeline.errors import ConfigError
from pipeline.finetune import Config
from pipeline.finetune.biencoder import PairCollator, build_biencoder, tokenize_sides
from pipeline.finetune.loaders import load_task
from pipeline.finetune.models import load_tokenizer
from pipeline.finetune.train import HParams, finetune, uses_biencoder
from pipeline.glue import TASKS

PAIRS = {"text_a": ["a man plays a guitar", "the cat sleeps"],
         "text_b": ["a man plays a guitar on the stage tonight", "dogs bark"]}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("bi") / "model", PAIRS["text_a"] + PAIRS["text_b"] * 20)


def test_sides_are_padded_apart_and_identical_sentences_score_the_top(checkpoint):
    tokenizer = load_tokenizer(checkpoint)
    encoded = tokenize_sides(tokenizer, PAIRS, max_length=32)
    rows = [{k: v[i] for k, v in encoded.items()} | {"label": 3.5} for i in range(2)]
    batch = PairCollator(tokenizer)(rows)
    # each side to its own longest row: side b's first sentence is longer than anything on side a
    assert batch["input_ids_b"].shape[1] > batch["input_ids_a"].shape[1]
    assert batch["attention_mask_a"][1].sum() < batch["attention_mask_a"].shape[1]  # padded, masked
    assert batch["labels"].dtype == torch.float32
    model = build_biencoder(checkpoint, "random", num_labels=1, seed=0).eval()
    with torch.no_grad():
        out = model(**batch)
        same = model(batch["input_ids_a"], batch["attention_mask_a"], batch["input_ids_a"], batch["attention_mask_a"])
    assert out["loss"] > 0 and out["logits"].shape == (2,)
    # cosine x 5: a sentence against itself is the label range's top, padding included or not
    assert torch.allclose(same["logits"], torch.full((2,), 5.0), atol=1e-4)
    classifier = build_biencoder(checkpoint, "random", num_labels=2, seed=0)
    assert classifier.classifier.in_features == 3 * classifier.encoder.config.hidden_size  # [u, v, |u - v|]


@pytest.mark.slow
def test_a_pair_task_trains_and_predicts_with_the_bi_encoder(checkpoint, shared_data, tmp_path):
    data = load_task(TASKS["stsb"], shared_data / "glue", "tsv", ("train", "dev"))
    data = {"train": data["train"].select(range(60)), "dev": data["dev"].select(range(30))}
    hp = HParams(epochs=1, batch_size=16, max_length=32, pair_encoding="bi", heldout_fraction=0.2)
    cross = HParams(**{**hp.__dict__, "pair_encoding": "cross"})
    bi_run = finetune(TASKS["stsb"], data, checkpoint, "pretrained", hp, 0, tmp_path / "bi", ("dev",))
    cross_run = finetune(TASKS["stsb"], data, checkpoint, "pretrained", cross, 0, tmp_path / "cross", ("dev",))
    scores = bi_run.predictions["dev"]
    assert scores.shape == (30,) and ((0 <= scores) & (scores <= 5)).all() and scores.std() > 0
    assert bi_run.train_examples == cross_run.train_examples == 48
    # each side alone: two special tokens per side, four per pair, where the cross-encoder has three
    assert bi_run.flops > cross_run.flops > 0


def test_bi_applies_to_pair_tasks_and_cannot_be_saved_for_the_report():
    assert uses_biencoder(TASKS["stsb"], HParams(pair_encoding="bi"))
    assert not uses_biencoder(TASKS["sst2"], HParams(pair_encoding="bi"))
    assert not uses_biencoder(TASKS["stsb"], HParams())
    with pytest.raises(ConfigError, match=r"save_models: 'mrpc' uses pair_encoding 'bi'"):
        build(Config, {"tasks": ["mrpc"], "save_models": ["mrpc"], "task_train": {"mrpc": {"pair_encoding": "bi"}}},
              prefix="finetune")
    with pytest.raises(ConfigError, match=r"pair_encoding"):
        build(Config, {"tasks": ["mrpc"], "train": {"pair_encoding": "siamese"}}, prefix="finetune")
