"""report.interpret: attention maps of tiny random models of each family, lmpipe's explicit
attention against SDPA, the finetune stage's saved classifiers (save_models), and integrated
gradients on one of them (completeness, a fixed choice of examples). CPU, seconds."""
import json
import shutil

import numpy as np
import pytest
import torch
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, GPT2Config, GPT2LMHeadModel,
                          LlamaConfig, LlamaForCausalLM, ModernBertConfig, ModernBertForMaskedLM)

from glue_fixtures import tiny_checkpoint
from pipeline.config import build
from pipeline.errors import InputError
from pipeline.finetune import Config as FinetuneConfig
from pipeline.finetune import run as run_finetune
from pipeline.finetune import saved_model_path
from pipeline.glue import TASKS
from pipeline.finetune.train import tokenize
from pipeline.models import LmpipeConfig, LmpipeForMaskedLM, LmpipeModel
from pipeline.pretrain.export import save_model
from pipeline.report.interpret import (InterpretConfig, attention_maps, attention_weights, glue_dev, load_classifier,
                                       load_pretrained, predict, select_examples, token_attributions)

SENTENCES = ["The cat sat on the mat because it was tired.", "The film is not good, but the actors are great."]
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64)
PNG = b"\x89PNG\r\n\x1a\n"


def tiny_model(path, family: str, texts: list[str]):
    """A 2-layer, 32-wide random model of `family` with a WordPiece tokenizer trained on `texts`,
    saved as the pretrain stage saves its model (export.save_model)."""
    tiny_checkpoint(path, texts, hidden=32, layers=2)  # BERT, the tokenizer
    if family == "bert":
        return path
    tok = AutoTokenizer.from_pretrained(path)
    ids = dict(pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    if family == "modernbert":
        model = ModernBertForMaskedLM(ModernBertConfig(
            vocab_size=len(tok), **TINY, layer_types=["full_attention"] * 2, cls_token_id=tok.cls_token_id,
            sep_token_id=tok.sep_token_id, classifier_pooling="mean", **ids))
    elif family == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=64, **ids))
    elif family == "llama":
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), **TINY, **ids))
    else:  # lmpipe: ModernBERT's blocks, as params' lmpipe family builds them
        model = LmpipeForMaskedLM(LmpipeConfig(vocab_size=len(tok), **TINY, position="rotary", activation="geglu",
                                               norm_position="pre", bias=False, dropout=0.0, **ids))
    for f in path.glob("*.safetensors"):
        f.unlink()
    save_model(model, tok, 64, path)
    return path


# ------------------------------------------------------------------------------- attention

@pytest.mark.parametrize("variant", [dict(), dict(causal=True, norm_position="pre", type_vocab_size=0),
                                     dict(position="rotary", activation="geglu", norm_position="pre", bias=False)])
@pytest.mark.parametrize("padded", [True, False])
def test_lmpipe_explicit_attention_matches_sdpa(variant, padded):
    torch.manual_seed(0)
    model = LmpipeModel(LmpipeConfig(vocab_size=50, **TINY, dropout=0.0, **variant)).eval()
    with torch.no_grad():  # away from the init's near-uniform attention
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    ids = torch.randint(1, 50, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    inputs = {"input_ids": ids, **({"attention_mask": mask} if padded else {})}
    with torch.no_grad():
        sdpa = model(**inputs)
        explicit = model(**inputs, output_attentions=True)
    assert sdpa.attentions is None and len(explicit.attentions) == 2
    keep = mask.bool() if padded else slice(None)  # padding positions' outputs are nobody's business
    torch.testing.assert_close(explicit.last_hidden_state[keep], sdpa.last_hidden_state[keep], atol=1e-5, rtol=1e-5)
    for att in explicit.attentions:
        assert att.shape == (2, 2, 9, 9)
        torch.testing.assert_close(att.sum(-1), torch.ones(2, 2, 9))
        if padded:
            assert att[1, :, :6, 6:].abs().max() == 0  # no query sees a padding key
        if variant.get("causal"):
            assert att[..., torch.ones(9, 9, dtype=torch.bool).triu(1)].abs().max() == 0


@pytest.mark.parametrize("family", ["modernbert", "bert", "lmpipe", "gpt2", "llama"])
def test_attention_maps(tmp_path, family):
    model_dir = tiny_model(tmp_path / "model", family, SENTENCES * 20)
    model, tok = load_pretrained(model_dir)
    ids, att = attention_weights(model, tok, SENTENCES[0], max_length=32)
    assert att.shape == (2, 2, len(ids), len(ids)) and len(ids) >= 10
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-5)
    if family in ("gpt2", "llama"):  # decoders: no query sees a later key
        assert np.abs(np.triu(att, 1)).max() == 0
    out = attention_maps(model_dir, SENTENCES, tmp_path / "fig" / "attention.png", max_length=8, max_layers=1)
    png = (tmp_path / "fig" / "attention.png").read_bytes()
    assert png.startswith(PNG)
    attention_maps(model_dir, SENTENCES, tmp_path / "fig" / "attention.png", max_length=8, max_layers=1)
    assert (tmp_path / "fig" / "attention.png").read_bytes() == png  # same model, same bytes
    assert (out["layers"], out["heads"], out["layers_drawn"], out["heads_drawn"]) == (2, 2, [0], [0, 1])
    for s in out["sentences"]:
        assert len(s["tokens"]) == 8 and np.array(s["entropy"]).shape == (2, 2)
        assert all(0 < e <= np.log(8) + 1e-6 for row in s["entropy"] for e in row)
        assert all(0 <= share <= 1 for share in s["special_share"])
    json.dumps(out)  # JSON-ready for the report


def test_missing_model_is_one_line(tmp_path):
    with pytest.raises(InputError, match=r"nope: not a Hugging Face checkpoint \(no config.json\)$"):
        attention_maps(tmp_path / "nope", SENTENCES, tmp_path / "a.png")
    with pytest.raises(InputError, match="nope: not a Hugging Face checkpoint"):
        token_attributions(tmp_path / "nope", None, tmp_path / "b.png")


def test_config_defaults_and_checks():
    assert InterpretConfig().max_tokens == 24
    with pytest.raises(ValueError, match="ig_steps: out of range"):
        InterpretConfig(ig_steps=1)


# ------------------------------------------------------------- saved classifiers and IG

def _small_sst2(shared_data, root, n=120):
    """The first rows of the real SST-2 train and dev files, in GLUE's layout."""
    for split in ("train", "dev"):
        lines = (shared_data / "glue" / "SST-2" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
        (root / "SST-2").mkdir(parents=True, exist_ok=True)
        (root / "SST-2" / f"{split}.tsv").write_text("\n".join(lines[:n]) + "\n", encoding="utf-8")
    return root


def _finetune(root, out):
    cfg = build(FinetuneConfig, {
        "data_root": str(root), "glue": "glue", "model": str(root / "model"), "finetune": str(out),
        "tasks": ["sst2"], "save_models": ["sst2"],
        "models": [{"name": "pipeline"}, {"name": "lm", "checkpoint": str(root / "lmpipe")},
                   {"name": "classical", "checkpoint": "classical"}],
        "train": {"epochs": 2, "batch_size": 16, "max_length": 32, "max_train_examples": 96, "lr": 1e-3},
        "write_submission": False, "threads": 1,
        "glue_metrics": str(out.parent / f"{out.name}-glue.json"), "plot": str(out.parent / f"{out.name}.csv")},
        prefix="finetune")
    run_finetune(cfg)
    return out


@pytest.fixture(scope="module")
def finetuned(shared_data, tmp_path_factory):
    """The finetune stage on 120 SST-2 rows for a tiny ModernBERT, a tiny lmpipe and classical."""
    root = tmp_path_factory.mktemp("interpret")
    glue = _small_sst2(shared_data, root / "glue")
    texts = [line for p in glue.rglob("*.tsv") for line in p.read_text().splitlines()]
    tiny_model(root / "model", "modernbert", texts)
    tiny_model(root / "lmpipe", "lmpipe", texts)
    return root, _finetune(root, root / "out")


def test_saved_classifiers_reproduce_their_predictions(finetuned):
    root, out = finetuned
    assert not saved_model_path(out, "classical", "sst2").exists()  # no weights to save
    dev = glue_dev(root / "glue")
    for name in ("pipeline", "lm"):
        saved = saved_model_path(out, name, "sst2")
        model = AutoModelForSequenceClassification.from_pretrained(saved).eval()
        tok = AutoTokenizer.from_pretrained(saved)
        enc = tokenize(tok, TASKS["sst2"], dev[:], 32)
        pred = predict(model, tok, [{k: enc[k][i] for k in enc} for i in range(len(dev))]).argmax(-1)
        recorded = (saved / "sst2_dev.tsv").read_text()
        assert recorded == (out / name / "predictions" / "sst2_dev.tsv").read_text()  # one seed: the same run
        assert [int(line.split("\t")[2]) for line in recorded.splitlines()[1:]] == pred.tolist()


def test_saved_classifier_is_deterministic(finetuned):
    root, out = finetuned
    again = _finetune(root, root / "again")
    first, second = saved_model_path(out, "pipeline", "sst2"), saved_model_path(again, "pipeline", "sst2")
    files = sorted(p.name for p in first.iterdir())
    assert "model.safetensors" in files and "tokenizer.json" in files
    assert files == sorted(p.name for p in second.iterdir())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_selection_is_fixed_and_ranked(finetuned):
    root, out = finetuned
    model, tok = load_classifier(saved_model_path(out, "pipeline", "sst2"))
    dev = glue_dev(root / "glue")
    picks = [select_examples(model, tok, TASKS["sst2"], dev, 3, 3, 24) for _ in range(2)]
    assert [p["idx"] for p in picks[0]] == [p["idx"] for p in picks[1]]
    assert all(len(p["encoding"]["input_ids"]) <= 24 for p in picks[0])
    probs = predict(model, tok, [p["encoding"] for p in picks[0]])
    right = [int(probs[i].argmax() == p["label"]) for i, p in enumerate(picks[0])]
    assert right == sorted(right, reverse=True) and 0 < sum(right) < 6  # the right ones first
    for group in (probs[:sum(right)], probs[sum(right):]):
        conf = group.max(-1)
        assert (np.diff(conf) <= 1e-7).all()  # most confident first


@pytest.mark.parametrize("name", ["pipeline", "lm"])
def test_token_attributions_are_complete(finetuned, tmp_path, name):
    root, out = finetuned
    res = token_attributions(saved_model_path(out, name, "sst2"), glue_dev(root / "glue"), tmp_path / "ig.png",
                             n_steps=64, n_correct=2, n_wrong=2)
    assert (tmp_path / "ig.png").read_bytes().startswith(PNG) and res["baseline"] == "[MASK]"
    assert len(res["examples"]) == 4 and [e["correct"] for e in res["examples"]] == [True, True, False, False]
    for ex in res["examples"]:
        assert len(ex["tokens"]) == len(ex["attributions"]) and ex["tokens"][0] == "[CLS]"
        assert ex["attributions"][0] == 0 and ex["attributions"][-1] == 0  # specials are in the baseline too
        assert (ex["prediction"] == ex["label"]) == ex["correct"] and ex["probability"] >= 0.5
        # completeness: the attributions add up to F(x) - F(baseline), up to captum's delta
        gap = ex["probability"] - ex["baseline_probability"]
        assert abs(ex["delta"]) < 1e-3 + 0.01 * abs(gap)
        assert sum(ex["attributions"]) == pytest.approx(gap + ex["delta"], abs=1e-5)
    json.dumps(res)


def test_save_models_config_checks():
    with pytest.raises(Exception, match=r"^finetune: save_models: 'sst2' not in tasks"):
        build(FinetuneConfig, {"tasks": ["cola"], "save_models": ["sst2"]}, prefix="finetune")
    with pytest.raises(Exception, match="the name 'models' is the saved classifiers' directory"):
        build(FinetuneConfig, {"save_models": ["sst2"], "models": [{"name": "models"}]}, prefix="finetune")


def test_resume_without_the_saved_model_retrains(finetuned):
    """An interrupted run's finished result is reused only with its saved classifier beside it."""
    root, out = finetuned
    partial = root / "resumed.partial"
    shutil.copytree(out, partial)
    for name in ("pipeline", "lm"):  # both finished, their results marked
        done = partial / name / "sst2.json"
        saved = json.loads(done.read_text())
        done.write_text(json.dumps({**saved, "result": {**saved["result"], "score": 12.34}}))
    shutil.rmtree(saved_model_path(partial, "pipeline", "sst2"))  # killed before saving it
    _finetune(root, root / "resumed")
    models = json.loads((root / "resumed-glue.json").read_text())["models"]
    scores = {m: r["tasks"]["sst2"]["score"] for m, r in models.items()}
    assert scores["pipeline"] != 12.34 and scores["lm"] == 12.34  # retrained / reused
    assert saved_model_path(root / "resumed", "pipeline", "sst2").is_dir()
