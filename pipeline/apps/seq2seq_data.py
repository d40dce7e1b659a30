"""Token ids for the seq2seq generators, and the collators that pad them.

encoder-decoder  encoder: [CLS] source [SEP]; labels: target [SEP]. EncoderDecoderModel shifts the
                 labels right behind decoder_start ([CLS]) for the decoder's input (teacher forcing).
decoder-only     one sequence [CLS] source [SEP] target [SEP]; the labels are -100 over
                 [CLS] source [SEP], so the loss is on the target tokens (and its closing [SEP])
                 only, and generation starts after the prompt [CLS] source [SEP].
Lengths count the special tokens: source_max_length covers [CLS] source [SEP], target_max_length
target [SEP]. Sources and targets are cut there (the count of cut ones is reported).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from pipeline.apps.seq2seq_models import Specials

IGNORE = -100  # the label torch's cross-entropy skips


@dataclass
class Encoded:
    sources: list[list[int]]      # [CLS] source [SEP]
    targets: list[list[int]]      # target [SEP] (empty lists for prediction)
    cut_sources: int = 0          # sources longer than source_max_length, cut
    cut_targets: int = 0


def encode(tokenizer, specials: Specials, sources: list[str], targets: list[str] | None,
           source_max: int, target_max: int) -> Encoded:
    # verbose=False: no warning about texts longer than the model's positions; they are cut below
    src = tokenizer(sources, add_special_tokens=False, verbose=False)["input_ids"]
    tgt = (tokenizer(targets, add_special_tokens=False, verbose=False)["input_ids"] if targets is not None
           else [[] for _ in src])
    s_room, t_room = source_max - 2, target_max - 1
    return Encoded(
        sources=[[specials.start, *ids[:s_room], specials.end] for ids in src],
        targets=[[*ids[:t_room], specials.end] for ids in tgt] if targets is not None else tgt,
        cut_sources=sum(len(ids) > s_room for ids in src),
        cut_targets=sum(len(ids) > t_room for ids in tgt) if targets is not None else 0)


def decoder_only_example(source: list[int], target: list[int]) -> dict[str, list[int]]:
    """The prompt and the target as one sequence; loss on the target only."""
    return {"input_ids": source + target, "labels": [IGNORE] * len(source) + target}


def _pad(rows: list[list[int]], value: int, left: bool = False) -> torch.Tensor:
    width = max(map(len, rows))
    return torch.tensor([[value] * (width - len(r)) + r if left else r + [value] * (width - len(r)) for r in rows])


def _mask(rows: list[list[int]], left: bool = False) -> torch.Tensor:
    return _pad([[1] * len(r) for r in rows], 0, left)


@dataclass
class Collator:
    """Right padding in training: the labels' padded tail is ignored, and an encoder-decoder's
    decoder inputs are the labels shifted (EncoderDecoderModel turns -100 into [PAD] there)."""
    pad: int

    def __call__(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        ids = [b["input_ids"] for b in batch]
        return {"input_ids": _pad(ids, self.pad), "attention_mask": _mask(ids),
                "labels": _pad([b["labels"] for b in batch], IGNORE)}


def prompt_batch(sources: list[list[int]], pad: int, left: bool) -> dict[str, torch.Tensor]:
    """Generation inputs. A decoder-only prompt is left-padded so every row continues from its
    last token; generate derives the positions from the attention mask."""
    return {"input_ids": _pad(sources, pad, left), "attention_mask": _mask(sources, left)}
