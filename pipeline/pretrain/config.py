"""Pretraining parameters (params.yaml `pretrain:` section)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class Arch:
    """The network, built from a transformers config class (never downloaded)."""
    family: Literal["bert", "modernbert", "electra", "gpt2", "llama", "xlnet", "lmpipe"] = "bert"  # see OBJECTIVE_FAMILIES
    hidden_size: int = 256
    layers: int = 4
    heads: int = 4
    kv_heads: int = 0            # llama grouped-query attention; 0 = heads
    intermediate_size: int = 0   # 0 = 4 x hidden (bert, gpt2) or 8/3 x hidden rounded to 64 (gated MLPs)
    dropout: float = 0.1
    vocab_size: int = 0          # 0 = the tokenizer's; otherwise it must equal it
    # family lmpipe only (pipeline/models/transformer.py); the other families fix their own.
    # The defaults are BERT's blocks; ModernBERT-like: rotary, geglu, pre.
    position: Literal["learned", "rotary"] = "learned"
    activation: Literal["relu", "gelu", "gelu_tanh", "geglu"] = "gelu"
    norm_position: Literal["pre", "post"] = "post"

    def __post_init__(self) -> None:
        if self.family != "lmpipe" and (self.position, self.activation, self.norm_position) != ("learned", "gelu", "post"):
            raise ValueError(f"arch.position/activation/norm_position: only family lmpipe takes them "
                             f"(family is {self.family})")
        if self.hidden_size % self.heads:
            raise ValueError(f"arch.hidden_size: {self.hidden_size} is not divisible by arch.heads={self.heads}")
        if self.kv_heads and self.heads % self.kv_heads:
            raise ValueError(f"arch.kv_heads: {self.kv_heads} must divide arch.heads={self.heads}")


@dataclass
class Electra:
    """Replaced-token detection (objective: electra; Clark et al. 2020, "ELECTRA: Pre-training Text
    Encoders as Discriminators Rather Than Generators"). `arch` sizes the discriminator, the model
    that is exported; the generator is a narrower ElectraForMaskedLM that shares its embeddings."""
    # Generator width / discriminator width. The paper finds 1/4-1/2 best (Figure 3) and uses
    # 1/4 for Small, 1/3 for Base (google-research/electra configure_pretraining.py). Its depth is
    # the discriminator's, its FFN 4 x its width, its heads width / 64 (run_pretraining.py).
    generator_hidden_fraction: float = 0.25
    disc_weight: float = 50.0    # lambda in  loss = MLM(generator) + lambda * BCE(discriminator)  (paper, 3.2)
    embedding_size: int = 0      # shared token-embedding width; 0 = arch.hidden_size (ELECTRA-Small: 128)

    def __post_init__(self) -> None:
        if not 0.0 < self.generator_hidden_fraction <= 1.0:
            raise ValueError(f"electra.generator_hidden_fraction: {self.generator_hidden_fraction} must be in (0, 1]")
        if self.disc_weight < 0:
            raise ValueError(f"electra.disc_weight: {self.disc_weight} must be >= 0")
        if self.embedding_size < 0:
            raise ValueError(f"electra.embedding_size: {self.embedding_size} must be >= 0")


@dataclass
class Plm:
    """Permutation language modelling (objective: plm; Yang et al. 2019, "XLNet: Generalized
    Autoregressive Pretraining for Language Understanding"), with the span sampling of
    transformers' DataCollatorForPermutationLanguageModeling: spans of 1..max_span_length tokens,
    each placed in a context of int(span / probability) tokens, become the targets."""
    probability: float = 1 / 6   # the collator's plm_probability: the share of tokens predicted
    max_span_length: int = 5     # the collator's max_span_length

    def __post_init__(self) -> None:
        if not 0.0 < self.probability < 1.0:
            raise ValueError(f"plm.probability: {self.probability} must be in (0, 1)")
        if self.max_span_length < 1:
            raise ValueError(f"plm.max_span_length: {self.max_span_length} must be >= 1")


# Which architectures each objective trains.
OBJECTIVE_FAMILIES = {"mlm": ("bert", "modernbert", "lmpipe"), "clm": ("gpt2", "llama", "lmpipe"),
                      "electra": ("electra",), "plm": ("xlnet",)}

# Fields that change how a run is observed or stored, not the numbers it computes: a checkpoint
# made with other values of these can still be resumed.
RUNTIME_FIELDS = {"tokenizer", "tokens", "model", "log_every", "eval_every", "eval_sequences",
                  "checkpoint_every", "keep_checkpoints", "keep_final_checkpoint", "resume",
                  "compile", "threads", "peak_flops", "device", "loader_workers"}


@dataclass
class Config:
    tokenizer: str = "data/tokenizer"    # input: paths.tokenizer
    tokens: str = "data/tokens"          # input: paths.tokens (index.json + shards)
    model: str = "data/model"            # output: paths.model
    objective: Literal["mlm", "clm", "electra", "plm"] = "mlm"
    pair_objective: Literal["none", "nsp", "sop"] = "none"  # mlm only: BERT's NSP or ALBERT's SOP
    # Masking (mlm, and electra's generator input), named as transformers' DataCollatorForLanguageModeling.
    # BERT predicts 15% of tokens; Wettig et al. 2022 ("Should You Mask 15% in Masked Language
    # Modeling?", arXiv:2202.08005) find 40% better for BERT-large, and the best rate growing with
    # model size; bench/objectives.py measures both here.
    mlm_probability: float = 0.15
    # Of the predicted tokens, BERT's 80% become [MASK], 10% a random token, 10% stay as they
    # are; ELECTRA's code uses 85% / 0% / 15% (pretrain_helpers.mask).
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    arch: Arch = field(default_factory=Arch)
    electra: Electra = field(default_factory=Electra)  # objective: electra only
    plm: Plm = field(default_factory=Plm)              # objective: plm only
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
    # DataLoader worker processes building micro-batches ahead of the step (pipeline/pretrain/loader.py);
    # 0: on the training thread
    loader_workers: int = 0
    # auto: cuda:LOCAL_RANK when torch sees a GPU, else the CPU; cpu forces the CPU (gloo) path on
    # a GPU host; cuda fails in one line where there is none
    device: Literal["auto", "cpu", "cuda"] = "auto"
    peak_flops: float = 0.0              # hardware peak for MFU, all processes; 0 = derive it

    def __post_init__(self) -> None:
        if self.pair_objective != "none" and self.objective != "mlm":
            raise ValueError(f"pair_objective: {self.pair_objective} needs objective=mlm")
        if self.pair_objective != "none" and self.arch.family != "bert":
            raise ValueError(f"pair_objective: {self.pair_objective} needs arch.family=bert")
        if self.arch.family not in OBJECTIVE_FAMILIES[self.objective]:
            raise ValueError(f"objective: {self.objective} does not fit arch.family={self.arch.family} "
                             "(mlm: bert, modernbert or lmpipe; clm: gpt2, llama or lmpipe; electra: electra; plm: xlnet)")
        if not 0.0 < self.mlm_probability < 1.0:
            raise ValueError(f"mlm_probability: {self.mlm_probability} must be in (0, 1)")
        if not (0.0 <= self.mask_replace_prob and 0.0 <= self.random_replace_prob
                and self.mask_replace_prob + self.random_replace_prob <= 1.0):
            raise ValueError(f"mask_replace_prob + random_replace_prob: {self.mask_replace_prob} + "
                             f"{self.random_replace_prob} must be two shares of 1")
        if len(self.betas) != 2:
            raise ValueError(f"betas: expected two numbers, got {self.betas}")
        for name in ("seq_len", "batch_size", "grad_accum", "max_steps", "log_every", "eval_every",
                     "checkpoint_every", "keep_checkpoints", "eval_sequences"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.loader_workers < 0:
            raise ValueError(f"loader_workers: must be >= 0, got {self.loader_workers}")
        if self.objective == "plm" and self.seq_len % 2:
            # the collator's factorization order shuffles the two halves of the window alike (data.factorization_order)
            raise ValueError(f"seq_len: {self.seq_len} must be even for objective=plm")
        if self.warmup_steps >= self.max_steps:
            raise ValueError(f"warmup_steps: {self.warmup_steps} must be below max_steps={self.max_steps}")
