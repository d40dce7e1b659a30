"""Training examples from the token shards: fixed windows, a seeded order, BERT masking
(mlm, and the generator input of electra), XLNet's span targets and factorization order (plm).

Every example is a pure function of (seed, global example index): the window it reads comes
from a per-epoch permutation and its masking / sentence-pair coin flips / permutation from a
generator seeded with its index. So the data of a step does not depend on how many processes share it
or on whether the run was resumed, and the data position is simply `step x batch_size`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from pipeline.errors import InputError

IGNORE = -100  # label of positions that carry no loss (torch cross_entropy's ignore_index)


def read_index(tokens_dir: Path) -> dict:
    path = tokens_dir / "index.json"
    if not path.exists():
        raise InputError(f"{path}: not found (run the tokenizer stage first)")
    return json.loads(path.read_text())


class TokenStream:
    """The windows of one split: `length` tokens each, never crossing a shard boundary."""

    def __init__(self, tokens_dir: Path, index: dict, split: str, length: int, stride: int):
        self.length, self.stride = length, stride
        self.shards, counts = [], []
        for shard in index["splits"][split]["shards"]:
            path = tokens_dir / shard["file"]
            if not path.exists():
                raise InputError(f"{path}: token shard listed in index.json is missing")
            data = np.memmap(path, dtype=index["dtype"], mode="r") if path.stat().st_size else np.empty(0)
            if data.size != shard["tokens"]:
                raise InputError(f"{path}: holds {data.size} tokens, index.json says {shard['tokens']}")
            self.shards.append(data)
            counts.append(max(0, (data.size - length) // stride + 1))
        self.starts = np.cumsum([0] + counts)
        if self.starts[-1] == 0:
            raise InputError(f"{tokens_dir}: the {split} split ({index['splits'][split]['tokens']} tokens) "
                             f"holds no full {length}-token window")

    def __len__(self) -> int:
        return int(self.starts[-1])

    def window(self, i: int) -> np.ndarray:
        shard = int(np.searchsorted(self.starts, i, side="right")) - 1
        offset = (i - int(self.starts[shard])) * self.stride
        return np.asarray(self.shards[shard][offset: offset + self.length], dtype=np.int64)


@dataclass
class Specials:
    pad: int
    cls: int | None = None
    sep: int | None = None
    mask: int | None = None
    vocab_size: int = 0


class Examples:
    """Builds batches of model inputs for the objective from a TokenStream."""

    def __init__(self, stream: TokenStream, cfg, specials: Specials, seed: int, shuffle: bool):
        self.stream, self.cfg, self.sp, self.seed, self.shuffle = stream, cfg, specials, seed, shuffle

    @lru_cache(maxsize=2)
    def _order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.stream))

    def _window(self, g: int) -> np.ndarray:
        n = len(self.stream)
        return self.stream.window(int(self._order(g // n)[g % n]) if self.shuffle else g % n)

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        rows = [self._example(g) for g in indices]
        return {k: torch.from_numpy(np.stack([r[k] for r in rows])) for k in rows[0]}

    def _example(self, g: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, 1 << 32, g])  # own stream per example
        tokens = self._window(g)
        if self.cfg.objective == "clm":
            return {"input_ids": tokens[:-1], "labels": tokens[1:]}
        ids, segments = self._layout(tokens, rng)
        # Special tokens (including the document separator inside the window) are never predicted.
        special = (ids == self.sp.cls) | (ids == self.sp.sep) | (ids == self.sp.pad)
        targets = self._permuted(ids, special, rng) if self.cfg.objective == "plm" else self._masked(ids, special, rng)
        return {**targets, **segments}

    def _layout(self, tokens: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The encoder's window, [CLS] A [SEP] (B [SEP]), and its segment ids (+ the pair label)."""
        sp, pair = self.sp, self.cfg.pair_objective
        out = {}
        if pair == "none":
            ids = np.concatenate([[sp.cls], tokens, [sp.sep]])
            types = np.zeros_like(ids)
        else:
            # One window split at a random point into segments A and B (ALBERT-style segments,
            # not sentences). SOP: B before A half the time. NSP: B from another window half the time.
            cut = int(rng.integers(1, tokens.size))
            a, b = tokens[:cut], tokens[cut:]
            label = int(rng.random() < 0.5)
            if label and pair == "sop":
                a, b = b, a
            elif label:
                b = self.stream.window(int(rng.integers(0, len(self.stream))))[: b.size]
            ids = np.concatenate([[sp.cls], a, [sp.sep], b, [sp.sep]])
            types = np.concatenate([np.zeros(a.size + 2, np.int64), np.ones(b.size + 1, np.int64)])
            out["pair_label"] = np.int64(label)
        return ids, {"token_type_ids": types, **out}

    def _masked(self, ids: np.ndarray, special: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        sp = self.sp
        labels = np.full_like(ids, IGNORE)
        chosen = ~special & (rng.random(ids.size) < self.cfg.mlm_probability)
        labels[chosen] = ids[chosen]
        roll = rng.random(ids.size)
        ids = ids.copy()
        to_mask, to_random = self.cfg.mask_replace_prob, self.cfg.random_replace_prob
        ids[chosen & (roll < to_mask)] = sp.mask
        random_tok = chosen & (roll >= to_mask) & (roll < to_mask + to_random)
        ids[random_tok] = rng.integers(0, sp.vocab_size, int(random_tok.sum()))
        return {"input_ids": ids, "labels": labels}

    def _permuted(self, ids: np.ndarray, special: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """XLNet's permutation LM: the input is the real tokens; `perm_mask` hides each target from
        the positions before it in a random factorization order (and from its own query stream),
        and the query stream predicts the targets, one `target_mapping` row each (one-hot over the
        window; zero rows, labelled IGNORE, pad them to plm_predictions)."""
        plm = self.cfg.plm
        target = np.zeros(ids.size, bool)
        for span in plm_spans(ids.size, plm.probability, plm.max_span_length, rng):
            target[span] = True
        target &= ~special
        mask = perm_mask(target, special, factorization_order(ids.size, rng))
        positions = np.flatnonzero(target)
        k = plm_predictions(self.cfg)
        mapping = np.zeros((k, ids.size), np.float32)
        mapping[np.arange(positions.size), positions] = 1.0
        labels = np.full(k, IGNORE)
        labels[: positions.size] = ids[positions]
        return {"input_ids": ids, "perm_mask": mask, "target_mapping": mapping, "labels": labels}


def plm_spans(length: int, probability: float, max_span: int, rng: np.random.Generator) -> list[slice]:
    """DataCollatorForPermutationLanguageModeling's targets: from the start of the window, draw a
    span length s in [1, max_span], reserve a context of int(s / probability) positions, put the
    span at a uniform offset inside it, and continue after the context. The last span may run
    past the window's end (numpy slicing cuts it)."""
    spans, cur = [], 0
    while cur < length:
        span = int(rng.integers(1, max_span + 1))
        context = int(span / probability)
        start = cur + int(rng.integers(0, context - span + 1))
        spans.append(slice(start, start + span))
        cur += context
    return spans


def plm_predictions(cfg) -> int:
    """The most targets plm_spans leaves in a window (the query stream's fixed length, so that
    batches stack and shapes stay static): a context that ends inside the window holds at most
    `densest` of its positions, and only the last one, cut by the window's end, is not complete
    and adds at most max_span_length."""
    p, m = cfg.plm.probability, cfg.plm.max_span_length
    densest = max(s / int(s / p) for s in range(1, m + 1))
    return int(cfg.seq_len * densest) + m


def factorization_order(length: int, rng: np.random.Generator) -> np.ndarray:
    """Each position's rank in the collator's factorization order: the first half of the window
    before the second, each half shuffled by the same permutation (the collator keeps orders from
    crossing the middle, which XLNet needs when half a window is reused as memory)."""
    half = rng.permutation(length // 2)
    return np.concatenate([half, half + length // 2])


def perm_mask(target: np.ndarray, special: np.ndarray, order: np.ndarray) -> np.ndarray:
    """L x L, 1 where position i may not attend to j: XLNet's `_local_perm` (the paper's code).
    Targets and special tokens take their rank in `order`; every other token is context, rank
    -1, which all positions see and which sees only context. A target sees the hidden positions
    ranked before it, not itself (its query stream predicts it; XLNet's content stream always
    sees itself); a special token also sees itself. Ordering the special tokens too matters: the
    collator lets every position see them, and with real tokens as input a [CLS] that saw a target
    would pass that token on to the target's own query stream one layer later."""
    hidden = target | special
    rank = np.where(hidden, order, -1)
    own = rank + ~target  # the first rank i cannot see: its own for a target, the next one otherwise
    return (hidden[None, :] & (rank[None, :] >= own[:, None])).astype(np.float32)


def window_length(cfg) -> tuple[int, int]:
    """(tokens read per example, stride between windows) for the objective."""
    if cfg.objective == "clm":
        return cfg.seq_len + 1, cfg.seq_len  # inputs and shifted targets overlap by one token
    specials = 2 if cfg.pair_objective == "none" else 3  # [CLS] A [SEP] (B [SEP])
    return cfg.seq_len - specials, cfg.seq_len - specials
