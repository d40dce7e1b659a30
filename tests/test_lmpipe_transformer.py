"""lmpipe's Transformer (pipeline/models): BERT and GPT-2 weights give their logits, checkpoints
load through the Auto classes, every head trains, the variants run and the decoder is causal.
Tiny random models on CPU, no data."""
import pytest
import torch
from transformers import (AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, BertConfig,
                          BertForMaskedLM, GPT2Config, GPT2LMHeadModel)

from pipeline.models import (LmpipeConfig, LmpipeForCausalLM, LmpipeForMaskedLM, LmpipeForQuestionAnswering,
                             LmpipeForSequenceClassification, LmpipeForTokenClassification, LmpipeModel)
from pipeline.models.convert import from_bert, from_gpt2, to_bert, to_gpt2

VOCAB, SEQ = 97, 12
TINY = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=16, dropout=0.0)
ENCODER = LmpipeConfig(**TINY)
DECODER = LmpipeConfig(**TINY, norm_position="pre", causal=True, type_vocab_size=0, activation="gelu_tanh",
                       mlm_head_transform=False, layer_norm_eps=1e-5)
MODERN = dict(**TINY, position="rotary", activation="geglu", norm_position="pre", bias=False, type_vocab_size=0)


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def batch(padded: bool = True) -> dict[str, torch.Tensor]:
    """Three sequences: full length, right-padded to 8 tokens, left-padded to 5."""
    ids = torch.randint(1, VOCAB, (3, SEQ))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    mask[2, :SEQ - 5] = 0
    ids[mask == 0] = 0
    return {"input_ids": ids, "attention_mask": mask} if padded else {"input_ids": ids}


def perturbed(model):
    """Random weights away from the init (LayerNorms at 1 and biases at 0 would hide a swapped or
    dropped tensor in a conversion)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def assert_same_logits(a, b, inputs, only_tokens: bool = True):
    with torch.no_grad():
        la, lb = a(**inputs).logits, b(**inputs).logits
    # Padding positions' outputs are no one's business (and differ: see visible_keys).
    keep = inputs["attention_mask"].bool() if only_tokens and "attention_mask" in inputs else slice(None)
    torch.testing.assert_close(la[keep], lb[keep], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_bert_converts_both_ways(attn):
    bert = perturbed(BertForMaskedLM(BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        attn_implementation=attn)))
    inputs = batch()
    inputs["token_type_ids"] = (torch.arange(SEQ) >= 4).long().expand(3, SEQ)
    ours = from_bert(bert)
    assert isinstance(ours, LmpipeForMaskedLM) and not ours.training
    assert_same_logits(bert, ours, inputs)
    back = to_bert(ours)
    assert all(torch.equal(v, back.state_dict()[k]) for k, v in bert.state_dict().items())
    assert_same_logits(bert, back.eval(), inputs, only_tokens=False)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_gpt2_converts_both_ways(attn):
    gpt2 = perturbed(GPT2LMHeadModel(GPT2Config(
        vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=16, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, bos_token_id=1, eos_token_id=1, attn_implementation=attn)))
    ours = from_gpt2(gpt2)
    assert isinstance(ours, LmpipeForCausalLM) and ours.lm_head.weight is ours.model.embeddings.tokens.weight
    for inputs in (batch(), batch(padded=False)):  # an explicit mask, and SDPA's is_causal
        assert_same_logits(gpt2, ours, inputs)
    back = to_gpt2(ours)
    assert all(torch.equal(v, back.state_dict()[k]) for k, v in gpt2.state_dict().items())
    assert_same_logits(gpt2, back.eval(), batch(padded=False))


def test_export_refuses_what_the_family_cannot_express():
    with pytest.raises(ValueError, match="rotary"):
        to_bert(LmpipeForMaskedLM(LmpipeConfig(**{**TINY, "position": "rotary"})))
    with pytest.raises(ValueError, match="norm_position"):
        to_gpt2(LmpipeForCausalLM(LmpipeConfig(**{**TINY, "causal": True, "type_vocab_size": 0})))


@pytest.mark.parametrize("config, pretrained", [(ENCODER, LmpipeForMaskedLM), (DECODER, LmpipeForCausalLM)])
def test_checkpoint_loads_as_a_classifier(tmp_path, config, pretrained):
    lm = perturbed(pretrained(config))
    lm.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).model_type == "lmpipe"
    if config.causal:  # the LM itself comes back whole, its output layer tied again
        reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
        assert reloaded.lm_head.weight is reloaded.model.embeddings.tokens.weight
        assert_same_logits(lm, reloaded, batch())
    # As the fine-tuning stage loads it (pipeline/finetune/models.py): regression for the decoder.
    num_labels = 1 if config.causal else 3
    clf_config = AutoConfig.from_pretrained(tmp_path, num_labels=num_labels, problem_type=(
        "regression" if num_labels == 1 else "single_label_classification"))
    clf = AutoModelForSequenceClassification.from_pretrained(tmp_path, config=clf_config, dtype=torch.float32).eval()
    assert isinstance(clf, LmpipeForSequenceClassification)
    assert all(torch.equal(v, clf.model.state_dict()[k]) for k, v in lm.model.state_dict().items())
    inputs = batch()
    labels = torch.randn(3) if num_labels == 1 else torch.tensor([0, 2, 1])
    out = clf(**inputs, labels=labels)
    assert out.logits.shape == (3, num_labels) and torch.isfinite(out.loss)
    # More padding on the right changes nothing: the pooled token ([CLS], or the decoder's last) is the same.
    longer = {k: torch.nn.functional.pad(v, (0, 3)) for k, v in inputs.items()}
    with torch.no_grad():
        torch.testing.assert_close(clf(**longer).logits, out.logits, atol=1e-5, rtol=1e-5)


def test_token_classification_and_qa_heads():
    inputs = batch()
    tagger = LmpipeForTokenClassification(LmpipeConfig(**TINY, num_labels=5))
    tags = torch.randint(0, 5, (3, SEQ)).masked_fill(inputs["attention_mask"] == 0, -100)
    out = tagger(**inputs, labels=tags)
    assert out.logits.shape == (3, SEQ, 5) and torch.isfinite(out.loss)
    qa = LmpipeForQuestionAnswering(ENCODER)
    out = qa(**inputs, start_positions=torch.tensor([1, 2, 3]), end_positions=torch.tensor([4, 5, 3]))
    assert out.start_logits.shape == out.end_logits.shape == (3, SEQ) and torch.isfinite(out.loss)
    start, end = qa(**inputs, return_dict=False)  # the standard tuple form
    assert start.shape == (3, SEQ)


def train(model, inputs: dict, steps: int = 50) -> tuple[float, float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = model(**inputs).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


@pytest.mark.parametrize("config", [DECODER, LmpipeConfig(**{**MODERN, "causal": True})])
def test_causal_lm_learns_a_fixed_batch(config):
    ids = torch.randint(0, VOCAB, (4, SEQ))
    first, last = train(LmpipeForCausalLM(config), {"input_ids": ids, "labels": ids})
    # From ~ln(97) = 4.6 to memorizing the batch; the unigram statistics alone would stop near 3.5.
    assert first > 4.0 and last < 2.0


@pytest.mark.parametrize("config", [ENCODER, LmpipeConfig(**MODERN)])
def test_masked_lm_learns_a_fixed_batch(config):
    ids = torch.randint(2, VOCAB, (4, SEQ))
    masked = torch.rand(ids.shape) < 0.3
    inputs = {"input_ids": ids.masked_fill(masked, 1), "labels": ids.masked_fill(~masked, -100)}
    first, last = train(LmpipeForMaskedLM(config), inputs)
    assert first > 4.0 and last < 2.0


@pytest.mark.parametrize("padded", [False, True])
def test_decoder_is_causal(padded):
    model = perturbed(LmpipeForCausalLM(LmpipeConfig(**{**MODERN, "causal": True})))
    inputs = {"input_ids": torch.randint(0, VOCAB, (2, SEQ))}
    if padded:
        inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    changed = {**inputs, "input_ids": inputs["input_ids"].clone()}
    changed["input_ids"][:, 7] = (changed["input_ids"][:, 7] + 1) % VOCAB
    with torch.no_grad():
        before, after = model(**inputs).logits, model(**changed).logits
    torch.testing.assert_close(before[:, :7], after[:, :7])
    assert not torch.allclose(before[:, 7:], after[:, 7:])


def test_rotary_positions_reach_an_encoder():
    """Without positions an encoder is permutation-equivariant: reversing the input would reverse
    the output. Rotary positions, applied inside attention, must break that."""
    model = perturbed(LmpipeForMaskedLM(LmpipeConfig(**MODERN)))
    ids = torch.randint(0, VOCAB, (2, SEQ))
    with torch.no_grad():
        forward, backward = model(ids).logits, model(ids.flip(1)).logits.flip(1)
    assert model.model.embeddings.positions is None and not torch.allclose(forward, backward, atol=1e-3)


def test_causal_lm_loss_scores_the_next_token():
    model = LmpipeForCausalLM(DECODER)
    ids = torch.randint(0, VOCAB, (2, SEQ))
    out = model(ids, labels=ids)
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(
        out.logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten()))


def test_sparse_prediction_scores_the_masked_positions_only():
    dense = LmpipeForMaskedLM(ENCODER).eval()
    sparse = LmpipeForMaskedLM(LmpipeConfig(**TINY, sparse_prediction=True)).eval()
    sparse.load_state_dict(dense.state_dict())
    ids = torch.randint(0, VOCAB, (2, SEQ))
    labels = torch.full_like(ids, -100)
    labels[0, 3], labels[1, 5], labels[1, 9] = 7, 8, 9
    full, few = dense(ids, labels=labels), sparse(ids, labels=labels)
    assert few.logits.shape == (3, VOCAB)
    torch.testing.assert_close(few.logits, full.logits[labels != -100])
    torch.testing.assert_close(few.loss, full.loss)


def test_resized_vocabulary_stays_tied():
    model = LmpipeForMaskedLM(ENCODER)
    model.resize_token_embeddings(VOCAB + 7)
    decoder = model.get_output_embeddings()
    assert decoder.weight is model.model.embeddings.tokens.weight and decoder.bias.shape == (VOCAB + 7,)


def test_residual_projections_start_smaller_with_depth():
    """GPT-2's and ModernBERT's init: W^O and W_2 ~ N(0, 0.02 / sqrt(2 L)), every other matrix 0.02."""
    config = LmpipeConfig(**{**TINY, "hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 8})
    layer = LmpipeModel(config).layers[0]
    scaled = 0.02 / (2 * 8) ** 0.5
    for weight, std in ((layer.attention.out.weight, scaled), (layer.ffn.down.weight, scaled),
                        (layer.attention.qkv.weight, 0.02), (layer.ffn.up.weight, 0.02)):
        assert weight.std().item() == pytest.approx(std, rel=0.05)


def test_embedding_norm_follows_the_stack_unless_set():
    assert LmpipeConfig(**TINY).embedding_norm and not LmpipeConfig(**TINY, norm_position="pre").embedding_norm
    assert LmpipeModel(LmpipeConfig(**MODERN, embedding_norm=True)).embeddings.norm is not None


@pytest.mark.parametrize("position", ["learned", "rotary"])
def test_causal_lm_generates_the_same_for_a_prompt_alone_and_left_padded_in_a_batch(position):
    """generate() (the applications' decoder-only row): position_ids keep a left-padded prompt's
    learned positions; rotary scores depend on relative positions, which padding leaves alone."""
    config = LmpipeConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          causal=True, position=position, norm_position="pre",
                          initializer_range=0.5)  # large weights: positions change the output here
    torch.manual_seed(0)
    model = LmpipeForCausalLM(config).eval()
    assert LmpipeForCausalLM.can_generate()
    batch = torch.tensor([[0, 0, 9, 10], [5, 6, 7, 8]])
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    together = model.generate(batch, attention_mask=mask, max_new_tokens=6, do_sample=False, pad_token_id=0)
    alone = model.generate(torch.tensor([[9, 10]]), max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert together[0, 4:].tolist() == alone[0, 2:].tolist()
    # and greedy decoding is the argmax of forward(), step by step
    ids = torch.tensor([[9, 10]])
    for _ in range(6):
        ids = torch.cat([ids, model(ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(ids, alone)
