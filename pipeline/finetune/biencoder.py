"""The bi-encoder for sentence-pair tasks (`pair_encoding: bi`): Sentence-BERT's heads (Reimers and
Gurevych 2019, arXiv:1908.10084) on the checkpoint's encoder.

Each sentence is encoded alone and mean-pooled (u, v). Regression (STS-B) scores the cosine of
u and v, scaled to the label range and trained with MSE, as SBERT's CosineSimilarityLoss;
classification puts a linear layer on [u, v, |u - v|]. Why: a cross-encoder has to learn to
compare two sentences from the fine-tuning examples alone, and 1,000 STS-B pairs are too few for
a small model (dev Pearson 11-15 for every encoder here, bench/README.md), while the cosine of
mean-pooled embeddings starts as a bag-of-words overlap measure (r 54-60 untrained,
bench/feature_probe.py) that fine-tuning sharpens.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModel

from pipeline.glue import STSB_RANGE
from pipeline.models.transformer import pool

SIDES = ("a", "b")


class BiEncoder(nn.Module):
    def __init__(self, encoder: nn.Module, num_labels: int):
        super().__init__()
        self.encoder = encoder
        width = encoder.config.hidden_size
        self.classifier = None if num_labels == 1 else nn.Linear(3 * width, num_labels)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return pool(hidden, attention_mask, "mean")

    def forward(self, input_ids_a, attention_mask_a, input_ids_b, attention_mask_b, labels=None) -> dict:
        u, v = self.embed(input_ids_a, attention_mask_a), self.embed(input_ids_b, attention_mask_b)
        if self.classifier is None:
            logits = STSB_RANGE[1] * torch.cosine_similarity(u.float(), v.float(), dim=-1)
            loss = None if labels is None else nn.functional.mse_loss(logits, labels.float())
        else:
            logits = self.classifier(torch.cat([u, v, (u - v).abs()], dim=-1))
            loss = None if labels is None else nn.functional.cross_entropy(logits.float(), labels)
        return {"loss": loss, "logits": logits} if loss is not None else {"logits": logits}

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """As PreTrainedModel.num_parameters (cost.transformer_flops), the head included."""
        head = sum(p.numel() for p in self.classifier.parameters()) if self.classifier is not None else 0
        return self.encoder.num_parameters(only_trainable=only_trainable, exclude_embeddings=exclude_embeddings) + head


def build_biencoder(path, init: str, num_labels: int, seed: int) -> BiEncoder:
    """The checkpoint's encoder without its MLM head (pretrained, or `init: random`) and a new head."""
    config = AutoConfig.from_pretrained(str(path))
    torch.manual_seed(seed)
    encoder = (AutoModel.from_config(config, dtype=torch.float32) if init == "random"
               else AutoModel.from_pretrained(str(path), config=config, dtype=torch.float32))
    return BiEncoder(encoder, num_labels)


def tokenize_sides(tokenizer, batch: dict[str, list[str]], max_length: int) -> dict[str, list]:
    """Each sentence of the pair on its own: input_ids_a / attention_mask_a, ..._b."""
    limit = min(max_length, tokenizer.model_max_length)
    out = {}
    for side in SIDES:
        encoded = tokenizer(batch[f"text_{side}"], truncation=True, max_length=limit)
        out[f"input_ids_{side}"], out[f"attention_mask_{side}"] = encoded["input_ids"], encoded["attention_mask"]
    return out


class PairCollator:
    """Pads each side of the pair to its own longest row in the batch."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        batch = {}
        for side in SIDES:
            padded = self.tokenizer.pad([{"input_ids": r[f"input_ids_{side}"],
                                          "attention_mask": r[f"attention_mask_{side}"]} for r in rows],
                                        return_tensors="pt")
            batch[f"input_ids_{side}"], batch[f"attention_mask_{side}"] = padded["input_ids"], padded["attention_mask"]
        if "label" in rows[0]:
            batch["labels"] = torch.tensor([r["label"] for r in rows])
        return batch
