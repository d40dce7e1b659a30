"""One summary function per stage, reading that stage's artifacts by the artifact contract."""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds

from pipeline.artifacts import metrics_path
from pipeline.config import resolve_path
from pipeline.errors import InputError
from pipeline.stages import APPLICATIONS

SAMPLE_CHARS = 160
SAMPLE_SENTENCE = "The quick brown fox jumps over the lazy dog."


def load_metrics(stage: str) -> dict:
    path = metrics_path(stage)
    if not path.exists():
        raise InputError(f"{path}: stage {stage!r} has not run yet (run `lmpipe {stage}` or `dvc repro {stage}`)")
    return json.loads(path.read_text())


def _dataset(path: Path):
    files = sorted(path.glob("*.parquet"))
    return ds.dataset([str(f) for f in files], format="parquet") if files else None


def _snippet(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= SAMPLE_CHARS else text[:SAMPLE_CHARS] + "…"


def language_mix(path: Path) -> dict[str, int]:
    data = _dataset(path)
    if data is None or "lang" not in data.schema.names:
        return {}
    counts = Counter(data.to_table(columns=["lang"]).column("lang").to_pylist())
    return dict(counts.most_common())


def fetch(paths: dict) -> dict:
    return {"metrics": load_metrics("fetch")}


def ingest(paths: dict) -> dict:
    docs = resolve_path(paths["docs"])
    return {"metrics": load_metrics("ingest"), "language_mix": language_mix(docs)}


def removal_samples(removed_root: Path) -> list[dict]:
    """For each step and reason: how many documents it removed and one example."""
    rows = []
    for step_dir in sorted(p for p in removed_root.glob("*") if p.is_dir()):
        data = _dataset(step_dir)
        if data is None:
            continue
        columns = [c for c in ("reason", "id", "text") if c in data.schema.names]
        table = data.to_table(columns=columns).to_pylist()
        first: dict[str, dict] = {}
        counts: Counter = Counter()
        for row in table:
            reason = row.get("reason") or step_dir.name
            counts[reason] += 1
            first.setdefault(reason, row)
        for reason, count in counts.most_common():
            sample = first[reason]
            rows.append({"step": step_dir.name, "reason": reason, "docs": count,
                         "sample_id": sample.get("id"), "sample": _snippet(sample.get("text", ""))})
    return rows


def curate(paths: dict) -> dict:
    curated = resolve_path(paths["curated"])
    return {"metrics": load_metrics("curate"),
            "removed": removal_samples(curated / "removed"),
            "language_mix": language_mix(curated / "docs")}


def validate(paths: dict) -> dict:
    return {"metrics": load_metrics("validate")}


def tokenizer(paths: dict) -> dict:
    from transformers import AutoTokenizer

    summary = {"metrics": load_metrics("tokenizer")}
    index = resolve_path(paths["tokens"]) / "index.json"
    if index.exists():
        summary["tokens_index"] = json.loads(index.read_text())
    tok = AutoTokenizer.from_pretrained(str(resolve_path(paths["tokenizer"])))
    summary["sample_encoding"] = {"text": SAMPLE_SENTENCE,
                                  "tokens": tok.tokenize(SAMPLE_SENTENCE),
                                  "ids": tok(SAMPLE_SENTENCE)["input_ids"]}
    return summary


def loss_curve(path: Path) -> dict:
    if not path.exists():
        return {}
    with open(path) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        return {}
    losses = [float(r["loss"]) for r in rows]
    return {"steps": int(float(rows[-1]["step"])), "first_loss": losses[0], "last_loss": losses[-1],
            "min_loss": min(losses), "points": len(rows)}


def pretrain(paths: dict) -> dict:
    return {"metrics": load_metrics("pretrain"), "loss_curve": loss_curve(resolve_path("plots/pretrain_loss.tsv"))}


def finetune(paths: dict) -> dict:
    summary = {"metrics": load_metrics("finetune")}
    glue = metrics_path("glue")
    if glue.exists():
        summary["glue"] = json.loads(glue.read_text())
    return summary


def report(paths: dict) -> dict:
    return {"metrics": load_metrics("report"),
            "report": str(resolve_path(paths["report_card"]) / "report.md")}


APP_SAMPLES = 5  # predictions shown per model


def _cell(value) -> str:
    """A prediction field for a table cell: token/tag lists joined, several references one per line."""
    if isinstance(value, list):
        parts = [_cell(v) for v in value]
        return ("\n" if any(" " in p for p in parts) else " ").join(parts)
    return _snippet(value)


def application(stage: str):
    """The stage's table, then for each model a few evaluation examples: input, reference(s) and
    the model's prediction, read from <paths.stage>/<model>/predictions.jsonl."""
    def summary(paths: dict) -> dict:
        metrics = load_metrics(stage)
        out_dir = resolve_path(paths[stage])
        result = {"metrics": {k: v for k, v in metrics.items() if k not in ("markdown", "models")},
                  "table": {"markdown": metrics.get("markdown", "")}}
        for model in metrics.get("models", {}):
            path = out_dir / model / "predictions.jsonl"
            if not path.exists():
                continue
            with open(path, encoding="utf-8") as fh:
                rows = [json.loads(line) for _, line in zip(range(APP_SAMPLES), fh)]
            result[f"{model} predictions"] = [
                {"id": r.get("id"), "input": _cell(r.get("input")), "reference": _cell(r.get("reference")),
                 "prediction": _cell(r.get("prediction"))} for r in rows]
        return result
    return summary


SUMMARIES = {"fetch": fetch, "ingest": ingest, "curate": curate, "validate": validate, "tokenizer": tokenizer,
             "pretrain": pretrain, "finetune": finetune,
             **{app: application(app) for app in APPLICATIONS}, "report": report}
