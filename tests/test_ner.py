"""ner stage: CoNLL reader, subword label alignment, entity scores, spaCy conversions, end to end."""
import json
import lzma
import shutil

import numpy as np
import pytest
import spacy
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from glue_fixtures import tiny_checkpoint
from pipeline.config import build
from pipeline.errors import ConfigError, InputError
from pipeline.ner import Config, run
from pipeline.ner.baseline import doc_tags, tagged_doc
from pipeline.formats.conll import Sentence, check_labels, read_conll
from pipeline.ner.metrics import entity_scores
from pipeline.ner.model import IGNORE, build_model, encode, predict_logits, word_tags, words_tokenizer

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- reader

def test_reads_sentences_documents_and_lines(tmp_path):
    corpus = read_conll(_write(tmp_path / "train.txt", CONLL), "ner.train_file")
    assert [s.words for s in corpus.sentences] == [["EU", "rejects", "German", "call", "."],
                                                   ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert corpus.sentences[1].tags == ["B-PER", "I-PER"]
    assert [s.line for s in corpus.sentences] == [3, 9, 14]  # 1-based line of the first token
    assert corpus.sentences[0].id == "train.txt:3"
    assert (corpus.documents, corpus.columns, corpus.tokens, corpus.entities()) == (2, 4, 8, 4)


def test_compressed_file_reads_the_same(tmp_path):
    (tmp_path / "train.txt.xz").write_bytes(lzma.compress(CONLL.encode()))
    plain = read_conll(_write(tmp_path / "train.txt", CONLL), "ner.train_file")
    packed = read_conll(tmp_path / "train.txt.xz", "ner.train_file")
    assert [s.tags for s in packed.sentences] == [s.tags for s in plain.sentences]


def test_wrong_column_count_names_file_and_line(tmp_path):
    path = _write(tmp_path / "bad.txt", CONLL.replace("call NN I-NP O", "call NN O"))
    with pytest.raises(InputError) as err:
        read_conll(path, "ner.train_file")
    assert str(err.value) == f"{path}:6: ner.train_file: expected 4 columns, got 3"
    with pytest.raises(InputError, match=r"bad.txt:3: ner.train_file: expected 5 columns, got 4"):
        read_conll(path, "ner.train_file", columns=5)


def test_no_docstart_other_tags_and_columns(tmp_path):
    # a two-column biomedical-style file, tag first, no separators, IOB1 (I- opens an entity)
    text = "I-GENE\tp53\nO\tbinds\nI-GENE\tMDM2\n\nO\tnone\n"
    corpus = read_conll(_write(tmp_path / "bio.tsv", text), "x", token_column=1, tag_column=0, docstart=None)
    assert [s.words for s in corpus.sentences] == [["p53", "binds", "MDM2"], ["none"]]
    assert corpus.labels == {"I-GENE", "O"} and corpus.documents == 0 and corpus.entities() == 2
    # the default docstart on a file without separators changes nothing
    assert len(read_conll(tmp_path / "bio.tsv", "x", token_column=1, tag_column=0).sentences) == 2
    with pytest.raises(InputError, match=r"bio.tsv:1: x: column 2 does not exist in a line of 2 columns"):
        read_conll(tmp_path / "bio.tsv", "x", token_column=2)


def test_bad_tags_and_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"bad.txt:6: t: tag 'S-LOC' is not IOB"):
        read_conll(_write(tmp_path / "bad.txt", CONLL.replace("call NN I-NP O", "call NN I-NP S-LOC")), "t")
    missing = tmp_path / "nope.txt"
    with pytest.raises(InputError) as err:
        read_conll(missing, "paths.ner_eval")
    assert str(err.value) == f"{missing}: paths.ner_eval: file not found" and "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"empty.txt: t: no sentences"):
        read_conll(_write(tmp_path / "empty.txt", "-DOCSTART- -X- -X- O\n\n"), "t")


def test_eval_tag_unseen_in_train_names_its_line(tmp_path):
    train = read_conll(_write(tmp_path / "train.txt", CONLL), "ner.train_file")
    test = read_conll(_write(tmp_path / "test.txt", "Paris NNP B-NP B-LOC\nis VBZ B-VP O\nnice JJ B-NP B-ADJ\n"),
                      "paths.ner_eval")
    with pytest.raises(InputError, match=r"test.txt:3: paths\.ner_eval: tag 'B-ADJ' does not occur in the "
                                         r"training file train.txt"):
        check_labels(train, test, "paths.ner_eval")


def test_partial_overrides_keep_the_stage_defaults():
    cfg = build(Config, {"slice": {"train_examples": 50}, "train": {"lr": 1e-3}}, prefix="ner")
    assert (cfg.slice.train_examples, cfg.slice.eval_examples) == (50, Config().slice.eval_examples)
    assert (cfg.train.lr, cfg.train.epochs) == (1e-3, Config().train.epochs)


def test_config_checks():
    with pytest.raises(ConfigError, match=r"^ner: max_length: 4 < 8"):
        build(Config, {"max_length": 4}, prefix="ner")
    with pytest.raises(ConfigError, match=r"^ner.spacy: dropout: out of range"):
        build(Config, {"spacy": {"dropout": 1.0}}, prefix="ner")
    with pytest.raises(ConfigError, match=r"^ner: models: names must be unique"):
        build(Config, {"models": [{"name": "a"}, {"name": "a", "init": "random"}]}, prefix="ner")


# ----------------------------------------------------------------------------- subwords

def _byte_level_checkpoint(path, texts):
    """A byte-level BPE tokenizer without add_prefix_space, as the pipeline's tokenizer stage saves."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["[PAD]", "[CLS]", "[SEP]"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                       special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]").save_pretrained(path)
    return path


def test_pre_split_words_get_the_running_text_subwords(tmp_path):
    texts = ["the council rejects the call", "Germany rejects British lamb"] * 20
    path = _byte_level_checkpoint(tmp_path / "bpe", texts)
    words = ["the", "council", "rejects"]

    def tokens(tokenizer, text):
        split = isinstance(text, list)
        return tokenizer.convert_ids_to_tokens(tokenizer(text, is_split_into_words=split)["input_ids"])

    # as saved, each pre-split word is tokenized as if it began the text: not what the model read
    raw = AutoTokenizer.from_pretrained(str(path))
    assert tokens(raw, words) != tokens(raw, " the council rejects")
    # fixed: every word is tokenized as after a space ("Ġrejects"), as in running text
    fixed = words_tokenizer(path)
    assert tokens(fixed, words) == tokens(raw, " the council rejects")


def test_first_subword_labels_and_truncation(tmp_path):
    checkpoint = tiny_checkpoint(tmp_path / "bert", ["peter blackburn met the european commission"] * 10, vocab_size=80)
    tokenizer = words_tokenizer(checkpoint)
    sentence = Sentence("s:1", ["Peter", "Blackburn", "met", "Brussels"], ["B-PER", "I-PER", "O", "B-LOC"], 1)
    label2id = {"O": 0, "B-PER": 1, "I-PER": 2, "B-LOC": 3}
    enc = encode(tokenizer, [sentence], label2id, max_length=64)
    word_ids, labels = enc.word_ids[0], enc.features[0]["labels"]
    assert word_ids[0] is None and word_ids[-1] is None  # [CLS] ... [SEP]
    assert len(word_ids) > 6  # "brussels" is not in the 80-token vocabulary: several subwords
    for i, w in enumerate(word_ids):
        first = w is not None and (i == 0 or word_ids[i - 1] != w)
        assert labels[i] == (label2id[sentence.tags[w]] if first else IGNORE)
    assert enc.cut_words == enc.empty_words == 0
    # 4 subwords: [CLS], two of Peter/Blackburn's, [SEP]: the rest is cut, predicted O and counted
    short = encode(tokenizer, [sentence], label2id, max_length=4)
    kept = {w for w in short.word_ids[0] if w is not None}
    assert short.cut_words == len(sentence.words) - len(kept) > 0
    logits = [[0.0, 0.0, 0.0, 0.0]] + [[0.0, 5.0, 0.0, 0.0]] * (len(short.word_ids[0]) - 1)
    tags = word_tags(np.array(logits), short.word_ids[0], 4, {i: t for t, i in label2id.items()})
    assert len(tags) == 4 and tags[len(kept):] == ["O"] * (4 - len(kept)) and tags[0] == "B-PER"


def test_predictions_keep_the_input_order(tmp_path):
    """Batched, padded prediction returns each sentence's own logits, in order (Trainer.predict
    under group_by_length does not: it reorders the rows)."""
    words = ["peter met the commission", "the european commission met peter blackburn today", "peter"]
    checkpoint = tiny_checkpoint(tmp_path / "bert", words * 10, vocab_size=80)
    tokenizer = words_tokenizer(checkpoint)
    model = build_model(checkpoint, "random", ["O", "B-PER", "I-PER"], seed=0)
    sentences = [Sentence(f"s:{i}", w.split(), ["O"] * len(w.split()), 1) for i, w in enumerate(words)]
    features = encode(tokenizer, sentences, None, 64).features
    batched = predict_logits(model, tokenizer, features, batch_size=2, bf16=False)
    for feature, logits in zip(features, batched):
        alone = predict_logits(model, tokenizer, [feature], batch_size=1, bf16=False)[0]
        assert logits.shape == (len(feature["input_ids"]), 3)
        assert torch.allclose(logits, alone, atol=1e-5)


# ----------------------------------------------------------------------------- scores, spaCy

def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-MISC"]]
    # gold entities: PER, LOC, ORG (3); predicted: PER, ORG(wrong type), ORG, MISC (4); correct 2
    scores = entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(50.0) and scores["recall"] == pytest.approx(200 / 3)
    assert scores["f1"] == pytest.approx(2 * 50 * 200 / 3 / (50 + 200 / 3))
    # conlleval: an I- after O opens an entity; a partial boundary is wrong
    assert entity_scores([["B-LOC", "O"]], [["I-LOC", "O"]])["f1"] == 100.0
    assert entity_scores([["B-PER", "I-PER"]], [["B-PER", "O"]])["f1"] == 0.0
    with pytest.raises(ValueError, match="one tag per reference tag"):
        entity_scores([["O", "O"]], [["O"]])


def test_iob_to_spacy_and_back():
    vocab = spacy.blank("en").vocab
    words = ["Peter", "Blackburn", "visits", "New", "York", "today"]
    doc = tagged_doc(vocab, words, ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"])
    assert [(e.text, e.label_) for e in doc.ents] == [("Peter Blackburn", "PER"), ("New York", "LOC")]
    assert doc_tags(doc) == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]
    # IOB1 comes back as IOB2; two adjacent entities of one type stay two
    iob1 = tagged_doc(vocab, words, ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O"])
    assert doc_tags(iob1) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "O"]


# ----------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def tiny_model(shared_data, tmp_path_factory):
    train = read_conll(shared_data / "ner/conll2003/train.txt.xz", "train")
    texts = [" ".join(s.words) for s in train.sentences[:2000]]
    return tiny_checkpoint(tmp_path_factory.mktemp("ner") / "model", texts, vocab_size=2000, hidden=64)


@pytest.fixture
def keep_torch_threads():
    """run() sets torch's process-wide thread count from `threads`; later tests get it back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_ner_end_to_end_and_resume(shared_data, tiny_model, project, keep_torch_threads):
    cfg = build(Config, {"data_root": str(shared_data), "model": str(tiny_model), "max_length": 64,
                         "slice": {"train_examples": 300, "eval_examples": 100},
                         "train": {"lr": 1e-3, "epochs": 2, "batch_size": 16, "precision": "fp32"},
                         "spacy": {"iterations": 6},
                         # one thread: a 64-wide model's ops are too small to split, and a second
                         # thread waiting on a busy core made each row 10x slower
                         "threads": 1}, prefix="ner")
    result = run(cfg)
    out = project / "data" / "ner"
    assert set(result["models"]) == {"pipeline", "floor", "spacy"}
    assert [r["kind"] for r in result["models"].values()] == ["pretrained", "random", "baseline"]
    for name, res in result["models"].items():
        assert set(res["metrics"]) == {"precision", "recall", "f1"}
        assert 0 <= res["metrics"]["f1"] <= 100 and res["train_examples"] == 300 and res["eval_examples"] == 100
        rows = [json.loads(line) for line in (out / name / "predictions.jsonl").read_text().splitlines()]
        assert len(rows) == 100
        for r in rows:
            words, gold, pred = r["input"].split(" "), r["reference"].split(" "), r["prediction"].split(" ")
            assert len(words) == len(gold) == len(pred)
            assert all(t == "O" or t[:2] in ("B-", "I-") for t in pred)
    # an id is file:line of the sentence's first token, and its words and tags are the file's
    lines = (shared_data / "ner/conll2003/test.txt").read_text().splitlines()
    start = int(rows[-1]["id"].split(":")[1])
    file_rows = [lines[start - 1 + i].split() for i in range(len(rows[-1]["input"].split(" ")))]
    assert [f[0] for f in file_rows] == rows[-1]["input"].split(" ")
    assert [f[-1] for f in file_rows] == rows[-1]["reference"].split(" ")
    assert result["models"]["pipeline"]["flops"] > 0 and result["models"]["spacy"]["flops"] == 0
    assert result["score"]["spacy"] > 0  # 300 sentences are enough for spaCy to find some entities
    data = result["data"]
    # files as the config names them, under data_root: the same in every clone
    assert (data["train"]["file"], data["eval"]["file"]) == (cfg.train_file, cfg.ner_eval)
    assert result["models"]["pipeline"]["finetune"] == {"lr": 1e-3, "epochs": 2}
    assert data["train"]["sentences_read"] == 14041 and data["eval"]["sentences_read"] == 3453  # README counts
    assert data["train"]["sentences_used"] == 300 and data["eval"]["dropped"] == {"outside the slice": 3353}
    assert (project / "plots" / "ner.csv").read_text().count("\n") == 1 + 3 * 3
    assert "| spacy | baseline |" in (out / "table.md").read_text()

    # a run killed after its rows finished resumes from the partial dir without retraining them
    shutil.copytree(out, project / "data" / "ner.partial")
    done = project / "data" / "ner.partial" / "spacy" / "result.json"
    saved = json.loads(done.read_text())
    saved["result"]["metrics"]["f1"] = 12.34
    done.write_text(json.dumps(saved))
    again = run(cfg)
    assert again["score"]["spacy"] == 12.34
    assert again["models"]["pipeline"] == result["models"]["pipeline"]
