"""Export a pretraining checkpoint as a save_pretrained model, to score a run at one of its steps.

The pretrain stage keeps its last checkpoints in `<paths.model>.partial/checkpoints/step_N.pt`
while it trains (pipeline/pretrain/checkpoint.py). This builds the network from the same params
(checked against the checkpoint's fingerprint), loads the step's weights and writes what the
stage would have written at that step, so `bench/glue_quality.py --model NAME=OUT` can score it.

    .venv/bin/python bench/export_checkpoint.py CHECKPOINT OUT [--set profile=cpu-1h]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pipeline.config import load_params, parse_overrides, resolve_path, stage_config
from pipeline.pretrain import Config, checkpoint, export, inputs
from pipeline.pretrain.model import build_model, exported


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="params override (profile=...)")
    args = p.parse_args()
    cfg = stage_config("pretrain", Config, load_params(overrides=parse_overrides(args.set)))
    state = checkpoint.load(args.checkpoint, cfg)  # another training config is an error
    tok = inputs.load_tokenizer(resolve_path(cfg.tokenizer))
    model = build_model(cfg, len(tok), inputs.specials(tok, cfg.objective))
    model.load_state_dict(state["model"])
    args.out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        export.save_model(exported(model), tok, cfg.seq_len, args.out)
    val = dict(state["history"].val).get(state["step"], {})
    print(f"step {state['step']} -> {args.out}" + (f" (val loss {val['val_loss']:.4f})" if "val_loss" in val else ""))


if __name__ == "__main__":
    main()
