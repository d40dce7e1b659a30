"""Pretraining parameters (params.yaml `pretrain:` section)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class Arch:
    """The network, built from a transformers config class (never downloaded)."""
    family: Literal["bert", "modernbert", "gpt2", "llama"] = "bert"  # encoders: mlm; decoders: clm
    hidden_size: int = 256
    layers: int = 4
    heads: int = 4
    kv_heads: int = 0            # llama grouped-query attention; 0 = heads
    intermediate_size: int = 0   # 0 = 4 x hidden (bert, gpt2) or 8/3 x hidden rounded to 64 (gated MLPs)
    dropout: float = 0.1
    vocab_size: int = 0          # 0 = the tokenizer's; otherwise it must equal it

    def __post_init__(self) -> None:
        if self.hidden_size % self.heads:
            raise ValueError(f"arch.hidden_size: {self.hidden_size} is not divisible by arch.heads={self.heads}")
        if self.kv_heads and self.heads % self.kv_heads:
            raise ValueError(f"arch.kv_heads: {self.kv_heads} must divide arch.heads={self.heads}")


# Fields that change how a run is observed or stored, not the numbers it computes: a checkpoint
# made with other values of these can still be resumed.
RUNTIME_FIELDS = {"tokenizer", "tokens", "model", "log_every", "eval_every", "eval_sequences",
                  "checkpoint_every", "keep_checkpoints", "keep_final_checkpoint", "resume",
                  "compile", "threads", "peak_flops"}


@dataclass
class Config:
    tokenizer: str = "data/tokenizer"    # input: paths.tokenizer
    tokens: str = "data/tokens"          # input: paths.tokens (index.json + shards)
    model: str = "data/model"            # output: paths.model
    objective: Literal["mlm", "clm"] = "mlm"
    pair_objective: Literal["none", "nsp", "sop"] = "none"  # mlm only: BERT's NSP or ALBERT's SOP
    mask_prob: float = 0.15              # BERT: 15% of tokens predicted, 80/10/10 mask/random/keep
    arch: Arch = field(default_factory=Arch)
    seq_len: int = 128
    batch_size: int = 32                 # sequences per optimizer step, over all processes
    grad_accum: int = 1                  # micro-batches per optimizer step, per process
    max_steps: int = 1000
    lr: float = 5e-4
    min_lr_ratio: float = 0.1            # the schedule decays to lr x this
    warmup_steps: int = 100
    schedule: Literal["cosine", "linear"] = "cosine"
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])  # RoBERTa's, stable for short runs
    grad_clip: float = 1.0
    precision: Literal["bf16", "fp32"] = "bf16"  # bf16 autocast on CUDA and CPU (AMX/AVX512-BF16)
    compile: bool = False                # torch.compile the model
    seed: int = 1234
    log_every: int = 10
    eval_every: int = 100
    eval_sequences: int = 256            # held-out sequences per evaluation
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    keep_final_checkpoint: bool = False  # keep the last checkpoint in the output (large: optimizer)
    resume: bool = True                  # continue from the newest checkpoint of a killed run
    threads: int = 0                     # torch intra-op threads per process; 0 = torch's default
    peak_flops: float = 0.0              # hardware peak for MFU, all processes; 0 = derive it

    def __post_init__(self) -> None:
        if self.pair_objective != "none" and self.objective != "mlm":
            raise ValueError(f"pair_objective: {self.pair_objective} needs objective=mlm")
        if self.pair_objective != "none" and self.arch.family != "bert":
            raise ValueError(f"pair_objective: {self.pair_objective} needs arch.family=bert")
        if (self.objective == "mlm") != (self.arch.family in ("bert", "modernbert")):
            raise ValueError(f"objective: {self.objective} does not fit arch.family={self.arch.family} "
                             "(mlm: bert or modernbert; clm: gpt2 or llama)")
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"mask_prob: {self.mask_prob} must be in (0, 1)")
        if len(self.betas) != 2:
            raise ValueError(f"betas: expected two numbers, got {self.betas}")
        for name in ("seq_len", "batch_size", "grad_accum", "max_steps", "log_every", "eval_every",
                     "checkpoint_every", "keep_checkpoints", "eval_sequences"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.warmup_steps >= self.max_steps:
            raise ValueError(f"warmup_steps: {self.warmup_steps} must be below max_steps={self.max_steps}")
