"""Training tokens/s of lmpipe's own Transformer (pipeline/models) against the transformers model
of the same shape, eager and under torch.compile, in one run.

    .venv/bin/python bench/transformer.py [--steps 10] [--rounds 2] [--no-compile]

Each pair holds the same weights: the transformers model is randomly initialised and converted
with pipeline/models/convert.py (BertForMaskedLM -> LmpipeForMaskedLM, GPT2LMHeadModel ->
LmpipeForCausalLM), so both compute the same function. A step is forward + backward + AdamW on
a fixed batch, with the model's own loss (labels given), in bf16 autocast as the pipeline trains.
The shape is the default profile's (4 x 256, seq 128, batch 32, vocab 8,192). Eager steps are
measured in alternating rounds, best kept (the 2 cores are shared with whatever else runs);
compiled ones after a warm-up whose time is reported as compile_s. Goal (issue 17): lmpipe >= 1.0x
eager and >= 1.1x compiled. Writes bench/results/transformer.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from pipeline.env import cpu_model  # noqa: E402  (after the sys.path insert)
from pipeline.models.convert import from_bert, from_gpt2  # noqa: E402

VOCAB, HIDDEN, LAYERS, HEADS, SEQ, BATCH = 8192, 256, 4, 4, 128, 32  # params.yaml's default profile


def pairs() -> dict[str, tuple[torch.nn.Module, torch.nn.Module]]:
    """name -> (transformers model, lmpipe model with the same weights), dropout off."""
    torch.manual_seed(0)
    bert = BertForMaskedLM(BertConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                                      num_attention_heads=HEADS, intermediate_size=4 * HIDDEN,
                                      max_position_embeddings=SEQ, hidden_dropout_prob=0.0,
                                      attention_probs_dropout_prob=0.0, attn_implementation="sdpa"))
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS,
                                      n_positions=SEQ, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                      attn_implementation="sdpa"))
    # As pretrain builds family lmpipe for mlm: the head scores the masked positions only. The loss,
    # and so every gradient, is the same as the dense model's (tests/test_lmpipe_transformer.py).
    sparse = from_bert(bert)
    sparse.config.sparse_prediction = True
    return {"encoder (BERT, mlm)": (bert, from_bert(bert)), "decoder (GPT-2, clm)": (gpt2, from_gpt2(gpt2)),
            "encoder, sparse prediction": (bert, sparse)}


def batch(causal: bool) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=g)
    if causal:
        return {"input_ids": ids, "labels": ids}
    labels = torch.where(torch.rand(BATCH, SEQ, generator=g) < 0.4, ids, -100)  # the default's 40% masking
    return {"input_ids": ids, "labels": labels}


class Stepper:
    """One model's training step, eager or compiled."""

    def __init__(self, model: torch.nn.Module, data: dict[str, torch.Tensor], compiled: bool):
        self.model, self.data = model.train(), data
        self.forward = torch.compile(model) if compiled else model
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(self) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = self.forward(**self.data).loss
        loss.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    def tokens_per_s(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        return steps * BATCH * SEQ / (time.perf_counter() - start)


def measure(theirs: torch.nn.Module, ours: torch.nn.Module, data, compiled: bool, steps: int, rounds: int) -> dict:
    runs = {"transformers": Stepper(theirs, data, compiled), "lmpipe": Stepper(ours, data, compiled)}
    out = {}
    for name, s in runs.items():  # warm-up: the first compile (or the allocator's first steps)
        start = time.perf_counter()
        for _ in range(2):
            s.step()
        out[f"{name}_warmup_s"] = round(time.perf_counter() - start, 1)
    best = {name: 0.0 for name in runs}
    for _ in range(rounds):
        for name, s in runs.items():
            best[name] = max(best[name], s.tokens_per_s(steps))
    out.update({f"{name}_tok_s": round(v) for name, v in best.items()})
    out["ratio"] = round(best["lmpipe"] / best["transformers"], 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--only", default="", help="measure only the pairs whose name contains this; "
                   "the other rows of the JSON are kept")
    args = p.parse_args()
    out = REPO / "bench" / "results" / "transformer.json"
    kept = [r for r in json.loads(out.read_text())["rows"] if args.only and args.only not in r["model"]] \
        if args.only and out.exists() else []
    rows = []
    for name, (theirs, ours) in pairs().items():
        if args.only not in name:
            continue
        data = batch(causal=isinstance(theirs, GPT2LMHeadModel))
        for compiled in [False] + ([] if args.no_compile else [True]):
            row = {"model": name, "mode": "compiled" if compiled else "eager",
                   **measure(theirs, ours, data, compiled, args.steps, args.rounds)}
            rows.append(row)
            print(f"{row['model']:<22} {row['mode']:<9} transformers {row['transformers_tok_s']:>7,} tok/s   "
                  f"lmpipe {row['lmpipe_tok_s']:>7,} tok/s   ratio {row['ratio']:.2f}", flush=True)
    result = {"shape": dict(vocab=VOCAB, hidden=HIDDEN, layers=LAYERS, heads=HEADS, seq_len=SEQ, batch=BATCH),
              "precision": "bf16 autocast", "threads": torch.get_num_threads(), "cpu": cpu_model(),
              "steps": args.steps, "rounds": args.rounds, "rows": kept + rows}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n| model | mode | transformers tok/s | lmpipe tok/s | ratio |\n|---|---|---:|---:|---:|")
    for r in kept + rows:
        print(f"| {r['model']} | {r['mode']} | {r['transformers_tok_s']:,} | {r['lmpipe_tok_s']:,} | {r['ratio']:.2f} |")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
