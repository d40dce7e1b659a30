"""Linear probes on frozen features: did pretraining put into the encoder what GLUE needs?

Fine-tuning on 1,000 examples mostly re-uses the features a model already has, so a probe of
the frozen encoder shows directly what pretraining contributed, against the floor (the same
architecture randomly initialised) and MiniLM. Two tasks: SST-2 and STS-B carry 88% of
MiniLM's lead over the floor in bench/results/glue_quality_3seeds.json.

    .venv/bin/python bench/feature_probe.py [--default data/model] [--cpu1h DIR] [--model NAME=DIR]
                                            [--no-floor] [--no-minilm]   (models: bench/checkpoints.py)

Features: the mean over tokens of the embedding layer's and the last layer's hidden states.
  SST-2  logistic regression on the fine-tuning budget's own train slice (seed 0: same held-out
         split and cap as finetune), dev accuracy
  STS-B  zero-shot cosine of the two sentences' features (dev Pearson), also after subtracting
         the train sentences' mean feature; and ridge regression on
         [|u - v|, u * v] (Conneau et al. 2017's pair features) fitted on the train slice
Prints a markdown table and writes bench/results/feature_probe.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr
from sklearn.linear_model import LogisticRegression, Ridge
from transformers import AutoConfig, AutoModel

import checkpoints  # bench/checkpoints.py
from pipeline.config import load_params, stage_config
from pipeline.sources import data_root_path
from pipeline.finetune import Config
from pipeline.finetune.loaders import load_task
from pipeline.finetune.models import load_tokenizer, resolve_checkpoint
from pipeline.glue import TASKS
from pipeline.finetune.train import split_heldout

REPO = Path(__file__).resolve().parent.parent
LAYERS = {"embeddings": 0, "last": -1}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    checkpoints.add_arguments(p)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "feature_probe.json"))
    return p.parse_args()


@torch.no_grad()
def features(model, tokenizer, texts: list[str], max_length: int) -> dict[str, np.ndarray]:
    """Layer name -> [len(texts), hidden] mean-pooled hidden states (padding excluded)."""
    out = {name: [] for name in LAYERS}
    for i in range(0, len(texts), 64):
        batch = tokenizer(texts[i:i + 64], padding=True, truncation=True, return_tensors="pt",
                          max_length=min(max_length, tokenizer.model_max_length))
        hidden = model(**batch, output_hidden_states=True).hidden_states
        mask = batch["attention_mask"].unsqueeze(-1).float()
        for name, layer in LAYERS.items():
            out[name].append(((hidden[layer].float() * mask).sum(1) / mask.sum(1)).numpy())
    return {name: np.concatenate(parts) for name, parts in out.items()}


def cosine(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1) + 1e-9)


def probe(model, tokenizer, data: dict, max_length: int) -> dict[str, dict[str, float]]:
    sst_train, sst_dev = data["sst2"]
    sts_train, sts_dev = data["stsb"]
    x_train, x_dev = (features(model, tokenizer, d["text_a"], max_length) for d in (sst_train, sst_dev))
    pairs = {split: (features(model, tokenizer, d["text_a"], max_length),
                     features(model, tokenizer, d["text_b"], max_length))
             for split, d in (("train", sts_train), ("dev", sts_dev))}
    out = {}
    for name in LAYERS:
        clf = LogisticRegression(max_iter=5000).fit(x_train[name], sst_train["label"])
        accuracy = float((clf.predict(x_dev[name]) == np.asarray(sst_dev["label"])).mean())
        u, v = pairs["dev"][0][name], pairs["dev"][1][name]
        # Anisotropy (Ethayarajh 2019): MLM embeddings share one large common direction, so every
        # cosine is near 1; subtracting the train sentences' mean removes it (BERT-whitening's
        # first step, Su et al. 2021, arXiv:2103.15316).
        mean = np.concatenate([pairs["train"][0][name], pairs["train"][1][name]]).mean(0)
        pair_features = {s: np.hstack([np.abs(a[name] - b[name]), a[name] * b[name]]) for s, (a, b) in pairs.items()}
        ridge = Ridge(alpha=1.0).fit(pair_features["train"], sts_train["label"])
        out[name] = {"sst2_probe_accuracy": round(100 * accuracy, 2),
                     "stsb_cosine_pearson": round(100 * float(pearsonr(cosine(u, v), sts_dev["label"])[0]), 2),
                     "stsb_centred_cosine_pearson": round(100 * float(pearsonr(cosine(u - mean, v - mean),
                                                                               sts_dev["label"])[0]), 2),
                     "stsb_ridge_pearson": round(100 * float(pearsonr(ridge.predict(pair_features["dev"]),
                                                                      sts_dev["label"])[0]), 2)}
    return out


def main() -> None:
    args = parse_args()
    params = load_params(REPO / "params.yaml", {"profile": "default"})
    base = stage_config("finetune", Config, params)
    hp = base.hparams["sst2"]
    root = data_root_path(base.data_root) / base.glue
    data = {}
    for name in ("sst2", "stsb"):
        splits = load_task(TASKS[name], root, base.source, ("train", "dev"))
        train, _heldout = split_heldout(splits["train"], base.hparams[name], seed=hp.seeds[0])
        data[name] = (train, splits["dev"])
    models, _skipped = checkpoints.models(args, base.model)
    rows = {}
    for spec in models:
        name, path, init = spec["name"], resolve_checkpoint(spec["checkpoint"], base.model), spec["init"]
        start = time.perf_counter()
        torch.manual_seed(0)
        model = (AutoModel.from_config(AutoConfig.from_pretrained(str(path))) if init == "random"
                 else AutoModel.from_pretrained(str(path))).float().eval()
        rows[name] = {"checkpoint": str(path), "init": init,
                      "layers": probe(model, load_tokenizer(path), data, hp.max_length),
                      "wall_time_s": round(time.perf_counter() - start, 1)}
        print(f"{name}: {rows[name]['layers']}", flush=True)
    report = {"train_examples": {k: len(v[0]) for k, v in data.items()},
              "dev_examples": {k: len(v[1]) for k, v in data.items()}, "models": rows}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    head = ["model", "layer", "SST-2 probe acc", "STS-B cosine r", "STS-B centred cosine r", "STS-B ridge r"]
    lines = [head, ["---"] * len(head)]
    for name, r in rows.items():
        for layer, m in r["layers"].items():
            lines.append([name, layer, *(f"{v:.1f}" for v in m.values())])
    print("\n".join("| " + " | ".join(line) + " |" for line in lines))


if __name__ == "__main__":
    main()
