"""ELECTRA replaced-token detection (Clark et al. 2020) from transformers' Electra classes.

A small generator (ElectraForMaskedLM) fills the masked positions with tokens sampled from its
softmax; the discriminator (ElectraForPreTraining) labels every token of the result as original
or replaced. Both train together on  MLM(generator) + disc_weight x BCE(discriminator); only the
discriminator is exported, as a checkpoint that AutoModelForSequenceClassification loads.
Implementation choices follow google-research/electra (run_pretraining.py, pretrain_helpers.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

from pipeline.pretrain.data import IGNORE


def generator_width(cfg) -> int:
    return max(1, round(cfg.arch.hidden_size * cfg.electra.generator_hidden_fraction))


def configs(cfg, vocab_size: int, specials) -> tuple[ElectraConfig, ElectraConfig]:
    """(discriminator, generator) configs: `arch` sizes the discriminator; the generator has its
    depth, `generator_hidden_fraction` of its width, a 4x FFN and one head per 64 dims
    (get_generator_config in the paper's code); the embedding width is shared."""
    a, e = cfg.arch, cfg.electra
    common = dict(vocab_size=vocab_size, embedding_size=e.embedding_size or a.hidden_size,
                  num_hidden_layers=a.layers, max_position_embeddings=cfg.seq_len, type_vocab_size=2,
                  hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout,
                  pad_token_id=specials.pad, attn_implementation="sdpa")
    disc = ElectraConfig(hidden_size=a.hidden_size, num_attention_heads=a.heads,
                         intermediate_size=a.intermediate_size or 4 * a.hidden_size, **common)
    width = generator_width(cfg)
    gen = ElectraConfig(hidden_size=width, num_attention_heads=max(1, width // 64),
                        intermediate_size=4 * width, **common)
    return disc, gen


def sample(logits: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
    """One token per row from softmax(logits), by the Gumbel-max trick (the paper's
    sample_from_softmax, temperature 1). A discrete draw: no gradient flows through it, so the
    discriminator's loss never reaches the generator (paper, section 2)."""
    gumbel = -torch.empty_like(logits, dtype=torch.float32).exponential_(generator=rng).log()
    return (logits.detach().float() + gumbel).argmax(-1)


def corrupt(input_ids: torch.Tensor, labels: torch.Tensor,
            sampled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator input, its labels): the original sequence with each predicted position
    replaced by the generator's sample; label 1 where the token now differs from the original.
    A sample equal to the original counts as original (the paper's `labels = masked * (1 -
    equal(updated, original))`). Unpredicted positions carry the original token, so the
    original sequence is the labels where predicted and the inputs elsewhere."""
    predicted = labels != IGNORE
    original = torch.where(predicted, labels, input_ids)
    fake = original.masked_scatter(predicted, sampled)
    return fake, (fake != original)


class ReplacedTokenDetection(torch.nn.Module):
    """The two networks as one module (one optimizer, one state_dict, one DDP wrapper), sharing
    the discriminator's embedding module: token, position and segment tables and their
    LayerNorm, as the paper's code does under one `electra/embeddings` scope. Each network
    keeps its own `embeddings_project` when its width differs from the embedding width, and the
    generator's output layer stays tied to the shared token table."""

    def __init__(self, discriminator: ElectraForPreTraining, generator: ElectraForMaskedLM):
        super().__init__()
        self.discriminator, self.generator = discriminator, generator
        generator.electra.embeddings = discriminator.electra.embeddings
        generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Summed terms (see loss.py): generator MLM loss over the predicted tokens ("lm"),
        discriminator BCE over every token ("disc"), and its correct predictions ("disc_acc")."""
        gen = self.generator
        predicted = labels != IGNORE
        hidden = gen.electra(input_ids, token_type_ids=token_type_ids).last_hidden_state
        # The LM head (dense + the vocabulary projection) on the predicted positions only, as the
        # paper's code gathers them first: it is the generator's largest matmul.
        logits = gen.generator_lm_head(gen.generator_predictions(hidden[predicted]))
        lm = F.cross_entropy(logits.float(), labels[predicted], reduction="sum")
        with torch.no_grad():
            fake, replaced = corrupt(input_ids, labels, sample(logits, rng))
        disc_logits = self.discriminator(fake, token_type_ids=token_type_ids).logits.float()
        disc = F.binary_cross_entropy_with_logits(disc_logits, replaced.float(), reduction="sum")
        correct = ((disc_logits.detach() > 0) == replaced).sum()
        return {"lm": lm, "disc": disc, "disc_acc": correct.float()}


def build(cfg, vocab_size: int, specials) -> ReplacedTokenDetection:
    disc_config, gen_config = configs(cfg, vocab_size, specials)
    return ReplacedTokenDetection(ElectraForPreTraining(disc_config), ElectraForMaskedLM(gen_config))
