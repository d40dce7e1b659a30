"""The seq2seq core shared by summarization and translation: the generators built from a
checkpoint (warm start accounting), the token layouts, label masking, batched generation."""
import pytest
import torch
from transformers import AutoModelForMaskedLM, ModernBertConfig, ModernBertForMaskedLM

from glue_fixtures import tiny_checkpoint
from pipeline.apps.common import FineTune
from pipeline.apps.seq2seq import Decoding, Seq2seqData, Seq2seqRow, fit_generate, generate
from pipeline.apps.seq2seq_data import IGNORE, Collator, decoder_only_example, encode
from pipeline.apps.seq2seq_models import decoder_only, encoder_decoder
from pipeline.config import build
from pipeline.errors import ConfigError
from pipeline.models.transformer import LmpipeConfig, LmpipeForMaskedLM

TEXTS = ["a man rides a red bike down the street .", "two dogs play in the green grass .",
         "a woman in a blue shirt reads a book .", "children run on the beach near the water ."] * 10


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("bert"), TEXTS, vocab_size=200)


def _modernbert(path, layers=2):
    """The tiny WordPiece tokenizer with a random ModernBERT MLM over it (pretrain's layout)."""
    tiny_checkpoint(path, TEXTS, vocab_size=200)
    config = ModernBertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                              intermediate_size=48, max_position_embeddings=64, layer_types=["full_attention"] * layers,
                              pad_token_id=0, cls_token_id=2, sep_token_id=3, bos_token_id=2, eos_token_id=3)
    torch.manual_seed(0)
    ModernBertForMaskedLM(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def modernbert(tmp_path_factory):
    return _modernbert(tmp_path_factory.mktemp("modernbert"))


def test_row_and_decoding_checks():
    with pytest.raises(ConfigError, match="a baseline row needs a method"):
        build(Seq2seqRow, {"name": "x", "checkpoint": "baseline"}, prefix="m")
    with pytest.raises(ConfigError, match="is for `checkpoint: baseline` rows"):
        build(Seq2seqRow, {"name": "x", "method": "lead"}, prefix="m")
    with pytest.raises(ConfigError, match="encoder-decoder only"):
        build(Seq2seqRow, {"name": "x", "architecture": "decoder-only", "share_weights": True}, prefix="m")
    with pytest.raises(ConfigError, match="m.architecture: expected one of"):
        build(Seq2seqRow, {"name": "x", "architecture": "rnn"}, prefix="m")
    with pytest.raises(ConfigError, match=r"^summarization.decoding: min_new_tokens: out of range \(5\)$"):
        build(Decoding, {"max_new_tokens": 4, "min_new_tokens": 5}, prefix="summarization.decoding")


def test_encode_layout_and_cuts(bert):
    built = encoder_decoder(bert, False, False, 16, 0)
    s = built.specials
    enc = encode(built.tokenizer, s, ["a man rides a red bike", "a dog"], ["two dogs", "a"], 5, 2)
    assert enc.sources[0] == [s.start, *built.tokenizer("a man rides", add_special_tokens=False)["input_ids"], s.end]
    dog = built.tokenizer("a dog", add_special_tokens=False)["input_ids"]
    assert enc.sources[1] == [s.start, *dog[:3], s.end] and enc.cut_sources == 1 + (len(dog) > 3)
    assert all(t[-1] == s.end and len(t) == 2 for t in enc.targets) and enc.cut_targets == 1


def test_decoder_only_loss_is_on_the_target_tokens_only(bert):
    built = decoder_only(bert, False, 0)
    assert built.variant == "bert-as-decoder" and built.transferred == 1.0  # BertLMHeadModel = BertForMaskedLM's names
    enc = encode(built.tokenizer, built.specials, ["a man rides a red bike", "a dog"], ["two dogs play", "grass"], 16, 8)
    examples = [decoder_only_example(s, t) for s, t in zip(enc.sources, enc.targets)]
    assert examples[0]["labels"][:len(enc.sources[0])] == [IGNORE] * len(enc.sources[0])
    assert examples[0]["labels"][len(enc.sources[0]):] == enc.targets[0]
    batch = Collator(built.specials.pad)(examples)
    model = built.model.eval()
    with torch.no_grad():
        loss = model(**batch).loss
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # by hand: position t predicts token t+1; only target tokens (and their [SEP]) are scored
    terms = []
    for row, (source, target) in enumerate(zip(enc.sources, enc.targets)):
        for j, token in enumerate(target):
            position = len(source) + j - 1
            terms.append(-torch.log_softmax(logits[row, position], -1)[token])
    assert len(terms) == sum(map(len, enc.targets))
    assert torch.isclose(loss, torch.stack(terms).mean(), atol=1e-5)


def test_bert2bert_from_a_tiny_bert_generates(bert):
    built = encoder_decoder(bert, False, False, 16, 0)
    assert built.variant == "bert2bert"
    assert 0.6 < built.transferred < 1.0  # all but the decoder's cross-attention
    assert built.model.config.decoder_start_token_id == built.tokenizer.cls_token_id
    assert built.model.config.eos_token_id == built.tokenizer.sep_token_id
    enc = encode(built.tokenizer, built.specials, ["a man rides a red bike", "two dogs"], None, 16, 8)
    ids = generate(built, enc.sources, Decoding(num_beams=2, max_new_tokens=5, min_new_tokens=5), False)
    assert [len(r) for r in ids] == [5, 5]  # min = max: exactly five tokens, [CLS]/[SEP] removed
    assert all(0 <= t < len(built.tokenizer) for r in ids for t in r)


def test_shared_bert2bert_ties_the_two_sides(bert):
    built = encoder_decoder(bert, False, True, 16, 0)
    assert built.variant == "bert2bert-share"
    enc, dec = built.model.encoder, built.model.decoder.bert
    assert enc.encoder.layer[0].attention.self.query.weight is dec.encoder.layer[0].attention.self.query.weight
    assert enc.embeddings.word_embeddings.weight is built.model.decoder.get_output_embeddings().weight
    assert dec.encoder.layer[0].crossattention.self.query.weight is not enc.encoder.layer[0].attention.self.query.weight
    unique = {id(p) for p in built.model.parameters()}  # parameters() lists a shared tensor once
    assert len(unique) < len(dict(built.model.encoder.named_parameters())) + len(dict(dec.named_parameters()))
    before = enc.encoder.layer[0].output.dense.weight.clone()
    enc_in = encode(built.tokenizer, built.specials, ["a man rides"], ["two dogs"], 16, 8)
    loss = built.model(input_ids=torch.tensor(enc_in.sources), labels=torch.tensor(enc_in.targets)).loss
    loss.backward()
    torch.optim.SGD(built.model.parameters(), lr=1.0).step()
    assert torch.equal(enc.encoder.layer[0].output.dense.weight, dec.encoder.layer[0].output.dense.weight)
    assert not torch.equal(before, enc.encoder.layer[0].output.dense.weight)


def test_random_init_has_nothing_from_the_checkpoint(bert):
    built = encoder_decoder(bert, True, False, 16, 0)
    assert built.transferred == 0.0
    mlm = AutoModelForMaskedLM.from_pretrained(str(bert))
    assert not torch.equal(built.model.encoder.embeddings.word_embeddings.weight,
                           mlm.bert.embeddings.word_embeddings.weight)


def test_modernbert_gets_a_random_bert_decoder(modernbert):
    built = encoder_decoder(modernbert, False, False, 16, 0)
    assert built.variant == "bert2rnd"  # ModernBERT has no cross-attending decoder in transformers
    assert type(built.model.encoder).__name__ == "ModernBertModel"
    assert type(built.model.decoder).__name__ == "BertLMHeadModel"
    encoder_share = built.model.encoder.num_parameters() / built.model.num_parameters()
    assert built.transferred == pytest.approx(encoder_share, abs=1e-6)
    with pytest.raises(ConfigError, match="share_weights: .* no cross-attending decoder"):
        encoder_decoder(modernbert, False, True, 16, 0)


@pytest.mark.parametrize("layers", [1, 2])
def test_modernbert_mlm_weights_become_a_causal_decoder(tmp_path, layers):
    """Every MLM weight lands in ModernBertDecoderForCausalLM. The check: position 0 sees only
    itself in both; with one layer every position k sees tokens 0..k in both, when the encoder
    reads the prefix 0..k alone (deeper, the encoder's earlier positions saw later tokens)."""
    path = _modernbert(tmp_path, layers)
    built = decoder_only(path, False, 0)
    assert built.variant == "modernbert-decoder" and built.transferred == 1.0
    mlm = AutoModelForMaskedLM.from_pretrained(str(path)).eval()
    x = built.tokenizer("a man rides a red bike down the street", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        causal = built.model.eval()(x).logits[0]
        prefixes = [mlm(x[:, :k + 1]).logits[0, k] for k in range(x.shape[1])]
    assert torch.allclose(causal[0], prefixes[0], atol=1e-4)
    if layers == 1:
        assert torch.allclose(causal, torch.stack(prefixes), atol=1e-4)


def test_lmpipe_mlm_becomes_a_causal_decoder_or_the_encoder_of_a_bert_decoder(tmp_path):
    """lmpipe's own MLM (the ModernBERT-like preset, one layer) as LmpipeForCausalLM: position k
    reads what the encoder reads at k over the prefix 0..k alone, and the output layer is its
    embeddings. It has no cross-attention, so the encoder-decoder gets a random BERT decoder."""
    tiny_checkpoint(tmp_path, TEXTS, vocab_size=200)
    config = LmpipeConfig(vocab_size=200, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=48, max_position_embeddings=64, position="rotary", activation="geglu",
                          norm_position="pre", type_vocab_size=0, dropout=0.0)
    torch.manual_seed(0)
    LmpipeForMaskedLM(config).save_pretrained(tmp_path)
    built = decoder_only(tmp_path, False, 0)
    assert built.variant == "lmpipe-as-decoder" and built.transferred == 1.0
    mlm = AutoModelForMaskedLM.from_pretrained(str(tmp_path)).eval()
    x = built.tokenizer("a man rides a red bike down the street", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        causal = built.model.eval().model(x).last_hidden_state[0]
        prefixes = torch.stack([mlm.model(x[:, :k + 1]).last_hidden_state[0, k] for k in range(x.shape[1])])
    assert torch.allclose(causal, prefixes, atol=1e-5) and not torch.allclose(causal[0], causal[-1])
    assert torch.equal(built.model.lm_head.weight, mlm.model.embeddings.tokens.weight)
    enc = encode(built.tokenizer, built.specials, ["a man rides a red bike", "a dog"], None, 16, 8)
    assert len(generate(built, enc.sources, Decoding(num_beams=2, max_new_tokens=4), True)) == 2
    assert decoder_only(tmp_path, True, 0).transferred == 0.0
    assert encoder_decoder(tmp_path, False, False, 16, 0).variant == "bert2rnd"


def test_batched_decoder_only_generation_matches_one_at_a_time(modernbert):
    """Left padding and the positions generate derives from the mask: a short prompt batched with
    a long one continues exactly as alone."""
    built = decoder_only(modernbert, False, 0)
    enc = encode(built.tokenizer, built.specials, ["a man rides a red bike down the street", "a dog"], None, 16, 8)
    decoding = Decoding(num_beams=1, max_new_tokens=6, no_repeat_ngram_size=0)
    together = generate(built, enc.sources, decoding, True)
    alone = [generate(built, [s], decoding, True)[0] for s in enc.sources]
    assert together == alone and all(together)


def test_fit_generate_trains_and_reports(bert, tmp_path):
    data = Seq2seqData(train_sources=TEXTS[:8], train_targets=[t.upper() for t in TEXTS[:8]],
                       eval_sources=TEXTS[:3], source_max_length=16, target_max_length=12,
                       train=FineTune(lr=1e-3, epochs=2, batch_size=4, precision="fp32"),
                       decoding=Decoding(num_beams=2, max_new_tokens=6))
    for row in (Seq2seqRow("ed"), Seq2seqRow("do", architecture="decoder-only")):
        out = fit_generate(row, bert, tmp_path / row.name, data)
        assert len(out.predictions) == 3 and all(isinstance(p, str) for p in out.predictions)
        assert out.flops > 0 and out.extra["epochs_run"] == 2.0 and out.extra["architecture"] == row.architecture
        assert out.extra["train_loss_last_epoch"] > 0
        assert not (tmp_path / row.name).exists()  # the Trainer's scratch directory is removed
