"""The models the GLUE benchmarks compare, chosen from the same flags in every script.

A model whose checkpoint is absent (or given as '') is skipped and listed as such. The floor is
the cpu-1h model's architecture and tokenizer randomly initialised (else the first model's, or
--floor-from's): the goal of issue 5 compares cpu-1h with it.
"""
from __future__ import annotations

import argparse

from pipeline.config import resolve_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--default", default=None, help="default-profile checkpoint (default: params paths.model)")
    p.add_argument("--cpu1h", default=None, help="checkpoint of the cpu-1h pretraining profile")
    p.add_argument("--model", action="append", default=[], metavar="NAME=DIR",
                   help="another checkpoint to score (repeatable)")
    p.add_argument("--floor-from", default=None,
                   help="checkpoint whose architecture+tokenizer the floor uses (default: --cpu1h, else --default)")
    p.add_argument("--no-floor", action="store_true", help="skip the randomly initialised floor")
    p.add_argument("--no-minilm", action="store_true", help="skip the MiniLM baseline")


def models(args: argparse.Namespace, default_model: str) -> tuple[list[dict], list[str]]:
    """finetune.models entries ({name, checkpoint, init}) in table order, and the skipped names."""
    candidates = {"default": default_model if args.default is None else args.default, "cpu-1h": args.cpu1h,
                  **dict(m.split("=", 1) for m in args.model)}
    present = {k: str(resolve_path(v)) for k, v in candidates.items() if v and (resolve_path(v) / "config.json").exists()}
    out = []
    floor_from = args.floor_from or present.get("cpu-1h") or next(iter(present.values()), None)
    if floor_from and not args.no_floor:
        out.append({"name": "floor", "checkpoint": str(resolve_path(floor_from)), "init": "random"})
    out += [{"name": k, "checkpoint": v, "init": "pretrained"} for k, v in present.items()]
    if not args.no_minilm:
        out.append({"name": "minilm", "checkpoint": "minilm", "init": "pretrained"})
    return out, [k for k in candidates if k not in present]
