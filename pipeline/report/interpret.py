"""Interpretability: what the pretrained model attends to, and which tokens the fine-tuned SST-2
classifier's predictions rest on.

attention_maps      the attention probabilities of the pretrained model (paths.model) on a few
                    fixed sentences: a layer x head grid of heatmaps per sentence, one PNG.
token_attributions  integrated gradients (Sundararajan et al. 2017; Captum's
                    LayerIntegratedGradients on the token embeddings) for the classifier the
                    finetune stage keeps (finetune.save_models), on the SST-2 dev examples it
                    gets most confidently right and wrong: a row of coloured tokens per example.
interpret           both, with InterpretConfig (params report.interpret), into one directory.

Figures use matplotlib's Agg canvas directly (no pyplot state, no display), and a PNG carries no
matplotlib version, so the same numbers give the same bytes.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import datasets
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from transformers import AutoModel, AutoModelForSequenceClassification

import pipeline.models  # noqa: F401  registers lmpipe's own Transformer with the Auto classes
from pipeline.errors import InputError
from pipeline.finetune.loaders import load_task
from pipeline.finetune.models import check_checkpoint, load_tokenizer
from pipeline.glue import TASKS, Task
from pipeline.finetune.train import tokenize

# SST-2's labels are "0"/"1" in GLUE's files; 1 is positive (Socher et al. 2013, GLUE's README).
LABEL_NAMES = {"sst2": ("negative", "positive")}


@dataclass
class InterpretConfig:
    """params report.interpret."""
    # Sentences whose attention is drawn: short (a heatmap stays legible to ~20 tokens), one with a
    # pronoun to resolve (the Transformer blog post's example) and one with a negation and a contrast.
    sentences: list[str] = field(default_factory=lambda: [
        "The animal didn't cross the street because it was too tired.",
        "The film is not good, but the actors are wonderful."])
    max_length: int = 32      # tokens per sentence, specials included; the rest is cut
    max_layers: int = 4       # layers drawn, evenly spaced from the first to the last (the default model has 4)
    max_heads: int = 4        # heads drawn per layer, the first ones (the default model has 4)
    model: str = "pipeline"   # the finetune.models name whose saved SST-2 classifier is explained
    n_correct: int = 3        # SST-2 dev examples explained that the classifier gets right ...
    n_wrong: int = 3          # ... and wrong: the most confident ones of each (select_examples)
    # Candidates are the dev examples of at most this many tokens, specials included, so that one
    # fits a figure row: ~18 words, about 45% of SST-2 dev (median 19 words).
    max_tokens: int = 24
    # Integration steps (Gauss-Legendre). Sundararajan et al. suggest 20-300 and checking that the
    # attributions add up to F(x) - F(baseline) within 5%; every example's `delta` reports it.
    ig_steps: int = 50
    # The baseline input: every token but the specials replaced by [MASK] (an MLM-trained encoder's
    # "unknown token") or by padding; [MASK] falls back to padding for a tokenizer without it.
    baseline: Literal["mask", "pad"] = "mask"

    def __post_init__(self):
        checks = {"sentences": len(self.sentences) >= 1 and all(s.strip() for s in self.sentences),
                  "max_length": self.max_length >= 4, "max_layers": self.max_layers >= 1,
                  "max_heads": self.max_heads >= 1, "n_correct": self.n_correct >= 0,
                  "n_wrong": self.n_wrong >= 0 and self.n_correct + self.n_wrong >= 1,
                  "max_tokens": self.max_tokens >= 3, "ig_steps": self.ig_steps >= 2}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"{bad[0]}: out of range ({getattr(self, bad[0])!r})")


# ------------------------------------------------------------------------------- attention

def token_strings(tokenizer, ids: list[int]) -> list[str]:
    """Each token as text: byte-level BPE's "Ġword" reads "word"; a token that decodes to white
    space only keeps its vocabulary form."""
    return [tokenizer.decode([i]).strip() or tokenizer.convert_ids_to_tokens(i) for i in ids]


def load_pretrained(model_dir: str | Path):
    """The pretrained encoder/decoder body of any family, fp32, with eager attention where
    transformers needs it to return the probabilities (lmpipe computes them itself)."""
    path = check_checkpoint(Path(model_dir))
    model = AutoModel.from_pretrained(str(path), attn_implementation="eager", dtype=torch.float32)
    return model.eval(), load_tokenizer(path)


@torch.no_grad()
def attention_weights(model, tokenizer, text: str, max_length: int) -> tuple[list[int], np.ndarray]:
    """The token ids of `text` and the attention probabilities, (layers, heads, query, key)."""
    enc = tokenizer(text, truncation=True, max_length=min(max_length, tokenizer.model_max_length),
                    return_tensors="pt", return_token_type_ids=False)
    attentions = model(**enc, output_attentions=True).attentions
    return enc["input_ids"][0].tolist(), torch.cat(attentions).numpy()


def attention_maps(model_dir: str | Path, sentences: list[str], out_png: str | Path, max_length: int = 32,
                   max_layers: int = 4, max_heads: int = 4) -> dict:
    """Draw the attention of the model in `model_dir` on `sentences` to `out_png`: per sentence a
    block of rows (the layers drawn) by columns (the heads drawn), keys on x, queries on y.
    Returns, JSON-ready: png, family, layers, heads, layers_drawn, heads_drawn, time_s and per
    sentence its text, tokens, `entropy` (layers x heads: the mean over queries of each
    attention row's entropy, nats; log T for uniform attention) and `special_share` (per layer,
    the mean share of attention on special tokens, which BERT's heads use as a no-op; Clark et
    al. 2019)."""
    start = time.perf_counter()
    model, tokenizer = load_pretrained(model_dir)
    specials = set(tokenizer.all_special_ids)
    weights = [attention_weights(model, tokenizer, s, max_length) for s in sentences]
    maps = [(token_strings(tokenizer, ids), att) for ids, att in weights]
    n_layers, n_heads = maps[0][1].shape[:2]
    layers = sorted({round(x) for x in np.linspace(0, n_layers - 1, min(n_layers, max_layers))})
    heads = list(range(min(n_heads, max_heads)))
    _draw_attention(maps, layers, heads, Path(out_png))
    summaries = []
    for text, (ids, att), (tokens, _) in zip(sentences, weights, maps):
        on_special = np.array([i in specials for i in ids])
        entropy = -(att * np.log(np.where(att > 0, att, 1))).sum(-1).mean(-1)  # 0 log 0 = 0
        share = att[..., on_special].sum(-1).mean((1, 2))
        summaries.append({"text": text, "tokens": tokens, "entropy": np.round(entropy.astype(float), 4).tolist(),
                          "special_share": np.round(share.astype(float), 4).tolist()})
    return {"png": str(out_png), "family": model.config.model_type, "layers": int(n_layers),
            "heads": int(n_heads), "layers_drawn": layers, "heads_drawn": heads, "sentences": summaries,
            "time_s": round(time.perf_counter() - start, 2)}


def _draw_attention(maps: list[tuple[list[str], np.ndarray]], layers: list[int], heads: list[int],
                    out_png: Path) -> None:
    # A cell grows with its sentence: ~0.16 in per token keeps 6-pt labels apart.
    cell = max(2.0, 0.16 * max(len(tokens) for tokens, _ in maps))
    rows = len(maps) * len(layers)
    fig = Figure(figsize=(cell * len(heads) + 1, cell * rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, len(heads), squeeze=False)
    for s, (tokens, att) in enumerate(maps):
        for r, layer in enumerate(layers):
            for c, head in enumerate(heads):
                ax = axes[s * len(layers) + r, c]
                # each map on its own scale (0 to its maximum): a uniform head over 15 tokens
                # peaks at 0.07 and would be black on a 0-1 scale
                ax.imshow(att[layer, head], cmap="viridis", vmin=0, interpolation="nearest")
                ax.set_title(f"sentence {s + 1}, layer {layer + 1}, head {head + 1}", fontsize=7)
                ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
                ax.set_yticks(range(len(tokens)), tokens if c == 0 else [], fontsize=6)
    fig.suptitle("attention probabilities (rows: queries, columns: keys; each map scaled to its maximum)",
                 fontsize=9)
    save_png(fig, out_png)


def save_png(fig: Figure, path: Path, dpi: int = 110) -> None:
    """Written beside `path` and renamed (as pipeline.artifacts does for text); no Software tag."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    with os.fdopen(fd, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi, metadata={"Software": None})
    os.replace(tmp, path)


# ---------------------------------------------------------------------- token attributions

def glue_dev(glue_root: str | Path, task: str = "sst2", source: str = "auto") -> datasets.Dataset:
    """A GLUE dev split in the finetune stage's canonical columns (idx, text_a, text_b, label)."""
    return load_task(TASKS[task], Path(glue_root), source, ("dev",))["dev"]


def load_classifier(classifier_dir: str | Path):
    path = check_checkpoint(Path(classifier_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(path), dtype=torch.float32)
    return model.eval(), load_tokenizer(path)


@torch.no_grad()
def predict(model, tokenizer, encodings: list[dict], batch_size: int = 64) -> np.ndarray:
    """Class probabilities, (examples, classes), padded per batch as the finetune stage predicts."""
    out = []
    for i in range(0, len(encodings), batch_size):
        batch = tokenizer.pad(encodings[i:i + batch_size], return_tensors="pt")
        out.append(model(**batch).logits.float().softmax(-1))
    return torch.cat(out).numpy()


def select_examples(model, tokenizer, task: Task, examples: datasets.Dataset, n_correct: int, n_wrong: int,
                    max_tokens: int) -> list[dict]:
    """Among the examples of at most `max_tokens` tokens, the `n_correct` the classifier predicts
    right with the highest probability, then the `n_wrong` it predicts wrong with the highest:
    what it relies on, and its most confident mistakes. Ties go to the earlier example, so the
    choice is fixed by the model and the data. Each: idx, text_a, text_b, label, encoding."""
    # truncating at max_tokens + 1 is enough to tell which examples are longer
    enc = tokenize(tokenizer, task, examples[:], max_tokens + 1)
    keep = [i for i, ids in enumerate(enc["input_ids"]) if len(ids) <= max_tokens]
    encodings = [{k: enc[k][i] for k in enc} for i in keep]
    probs = predict(model, tokenizer, encodings) if keep else np.zeros((0, 2))
    labels = np.array(examples["label"])[keep]
    pred, conf = probs.argmax(-1), probs.max(-1)
    chosen = []
    for right, n in ((True, n_correct), (False, n_wrong)):
        pool = [j for j in range(len(keep)) if (pred[j] == labels[j]) == right]
        chosen += sorted(pool, key=lambda j: (-conf[j], j))[:n]
    return [{**examples[keep[j]], "encoding": encodings[j]} for j in chosen]


def baseline_id(tokenizer, baseline: str) -> int:
    token = tokenizer.mask_token_id if baseline == "mask" else None
    token = tokenizer.pad_token_id if token is None else token
    if token is None:
        raise InputError(f"{tokenizer.name_or_path}: the tokenizer has neither a mask nor a pad token "
                         "for the attribution baseline")
    return token


def attribute(model, tokenizer, encoding: dict, base_id: int, n_steps: int) -> dict:
    """Integrated gradients of the predicted class's probability with respect to the token
    embeddings, from the baseline (every non-special token -> base_id) to the input, summed over
    the embedding dimensions: one number per token, together F(x) - F(baseline) up to `delta`."""
    from captum.attr import LayerIntegratedGradients  # heavy import: only when attributing

    inputs = {k: torch.tensor([v]) for k, v in encoding.items()}
    ids = inputs.pop("input_ids")
    names = list(inputs)  # attention_mask (and token_type_ids): the same for input and baseline
    special = torch.tensor(tokenizer.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True),
                           dtype=torch.bool)
    base = torch.where(special, ids, torch.full_like(ids, base_id))

    def prob(input_ids, *rest):
        return model(input_ids=input_ids, **dict(zip(names, rest))).logits.float().softmax(-1)

    with torch.no_grad():
        p_input, p_base = prob(ids, *inputs.values())[0], prob(base, *inputs.values())[0]
    target = int(p_input.argmax())
    lig = LayerIntegratedGradients(prob, model.get_input_embeddings())
    attr, delta = lig.attribute(ids, baselines=base, target=target, additional_forward_args=tuple(inputs.values()),
                                n_steps=n_steps, return_convergence_delta=True)
    return {"tokens": token_strings(tokenizer, ids[0].tolist()),
            "attributions": [round(float(a), 6) for a in attr.sum(-1)[0]],
            "prediction": target, "probability": round(float(p_input[target]), 6),
            "baseline_probability": round(float(p_base[target]), 6), "delta": float(delta[0])}


def token_attributions(classifier_dir: str | Path, examples: datasets.Dataset, out_png: str | Path,
                       n_steps: int = 50, n_correct: int = 3, n_wrong: int = 3, max_tokens: int = 24,
                       baseline: str = "mask", task: str = "sst2") -> dict:
    """Explain the classifier in `classifier_dir` (a finetune save_models directory) on the
    examples select_examples picks from `examples` (glue_dev), drawn to `out_png`. Returns,
    JSON-ready: png, n_steps, baseline (the token), candidates (examples short enough), time_s,
    and per example idx, text, label, correct and attribute's tokens, attributions, prediction,
    probability, baseline_probability, delta."""
    start = time.perf_counter()
    t = TASKS[task]
    model, tokenizer = load_classifier(classifier_dir)
    if t.is_regression or model.config.num_labels != len(t.labels):
        raise InputError(f"{classifier_dir}: {model.config.num_labels} output(s), "
                         f"not a {len(t.labels or ())}-class {task} classifier")
    chosen = select_examples(model, tokenizer, t, examples, n_correct, n_wrong, max_tokens)
    base_id = baseline_id(tokenizer, baseline)
    rows = []
    for ex in chosen:
        row = attribute(model, tokenizer, ex["encoding"], base_id, n_steps)
        text = ex["text_a"] + (f" / {ex['text_b']}" if ex["text_b"] else "")
        rows.append({"idx": int(ex["idx"]), "text": text, "label": int(ex["label"]),
                     "correct": row["prediction"] == ex["label"], **row})
    _draw_attributions(rows, LABEL_NAMES.get(task, t.labels), Path(out_png))
    return {"png": str(out_png), "n_steps": n_steps, "baseline": tokenizer.convert_ids_to_tokens(base_id),
            "examples": rows, "time_s": round(time.perf_counter() - start, 2)}


def _draw_attributions(rows: list[dict], label_names, out_png: Path, width: float = 11.0) -> None:
    """One block per example: a header line, then its tokens left to right (wrapped), each on a
    colour from red (against the predicted class) to green (for it), scaled per example to its
    largest |attribution|. Monospaced text, so a token's width follows from its length."""
    char, line, size = 0.09, 0.28, 10  # inches per character and per line at 10 pt monospace
    blocks = []
    for row in rows:
        lines, x = [[]], 0.0
        for token, a in zip(row["tokens"], row["attributions"]):
            w = char * (len(token) + 1)
            if x + w > width - 0.4 and lines[-1]:
                lines.append([])
                x = 0.0
            lines[-1].append((x, token, a))
            x += w
        blocks.append(lines)
    height = 0.5 + sum(line * (len(b) + 1.6) for b in blocks)
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    colours = colormaps["RdYlGn"]
    y = height - 0.35
    for row, lines in zip(rows, blocks):
        scale = max(abs(a) for a in row["attributions"]) or 1.0
        verdict = "right" if row["correct"] else "wrong"
        fig.text(0.2 / width, y / height, f"dev #{row['idx']}: gold {label_names[row['label']]}, predicted "
                 f"{label_names[row['prediction']]} (p = {row['probability']:.2f}, {verdict}); "
                 f"sum = {sum(row['attributions']):+.3f}, delta = {row['delta']:+.1e}",
                 fontsize=size - 1, va="top", weight="bold")
        y -= line * 1.1
        for tokens in lines:
            for x, token, a in tokens:
                fig.text((0.2 + x) / width, y / height, token, family="monospace", fontsize=size, va="top",
                         bbox={"facecolor": colours(0.5 + 0.5 * a / scale), "edgecolor": "none", "pad": 1.5})
            y -= line
        y -= line * 0.5
    fig.text(0.2 / width, 0.12 / height, "integrated gradients of the predicted class's probability per token: "
             "green pushes towards the prediction, red against (each example on its own scale)",
             fontsize=size - 2, style="italic")
    save_png(fig, out_png)


# ---------------------------------------------------------------------------------- both

def interpret(cfg: InterpretConfig, model_dir: str | Path, classifier_dir: str | Path, glue_root: str | Path,
              out_dir: str | Path) -> dict:
    """attention.png and attributions.png in `out_dir`; {"attention": ..., "attributions": ...}."""
    out_dir = Path(out_dir)
    attention = attention_maps(model_dir, cfg.sentences, out_dir / "attention.png", cfg.max_length,
                               cfg.max_layers, cfg.max_heads)
    attributions = token_attributions(classifier_dir, glue_dev(glue_root), out_dir / "attributions.png",
                                      cfg.ig_steps, cfg.n_correct, cfg.n_wrong, cfg.max_tokens, cfg.baseline)
    return {"attention": attention, "attributions": attributions}
