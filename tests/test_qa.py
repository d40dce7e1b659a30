"""qa stage: the official SQuAD metrics, the file checks and the train/eval split, windows and
n-best decoding, the sliding-window baseline, and the stage end to end on the real files."""
import json
import lzma
import shutil

import numpy as np
import pytest

from glue_fixtures import tiny_checkpoint
from pipeline.apps.common import FineTune, ModelRow, Slice
from pipeline.config import build
from pipeline.errors import ConfigError, InputError
from pipeline.finetune.models import load_tokenizer
from pipeline.formats import squad
from pipeline.qa import Config, baseline, run
from pipeline.qa.metrics import evaluate, exact_match_score, f1_score, normalize_answer
from pipeline.qa.model import Shape, Windows, decode, featurize
from pipeline.formats.squad import Example

# ----------------------------------------------------------------------------- metrics


def test_normalize_answer_follows_the_official_script():
    assert normalize_answer("The  Quick, brown FOX!") == "quick brown fox"
    assert normalize_answer("an apple a day") == "apple day"
    assert normalize_answer("banana theatre") == "banana theatre"   # articles only as whole words
    assert normalize_answer("a.m.") == "am"      # punctuation goes before articles: no "a" left
    assert normalize_answer("\tDenver\nBroncos ") == "denver broncos"


def test_exact_match_and_f1_by_hand():
    assert exact_match_score("the Denver Broncos", "Denver Broncos") == 1.0
    assert exact_match_score("Denver", "Denver Broncos") == 0.0
    # 2 tokens shared: precision 2/3, recall 1 -> F1 0.8
    assert f1_score("Denver Broncos team", "the Denver Broncos") == pytest.approx(0.8)
    assert f1_score("Carolina", "Denver Broncos") == 0.0
    assert f1_score("the", "a") == 0.0            # both normalise to nothing: no common token
    # max over the gold answers, then the mean over questions, x100
    scores = evaluate({"q1": ["Santa Clara", "Santa Clara, California"], "q2": ["24-10"]},
                      {"q1": "Santa Clara, California.", "q2": "24"})
    assert scores["exact_match"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(50.0)    # q2: "2410" vs "24": no common token
    with pytest.raises(ValueError, match="1 questions have no prediction"):
        evaluate({"q1": ["x"], "q2": ["y"]}, {"q1": "x"})


# ----------------------------------------------------------------------------- files and checks

CONTEXT = "Denver beat Carolina in 2016. Denver won again in 2016 at home."


def _squad_doc(context=CONTEXT, title="Game", qas=None):
    qas = qas if qas is not None else [
        {"id": "q1", "question": "Who won again?", "answers": [
            {"text": "Denver", "answer_start": 0},              # right
            {"text": "Denver", "answer_start": 28}]},           # wrong: nearest occurrence is 30
        {"id": "q2", "question": "Where?", "answers": [{"text": "at home", "answer_start": 0}]},
        {"id": "q3", "question": "Who lost?", "answers": [{"text": "Miami", "answer_start": 5}]}]
    return {"version": "1.1", "data": [{"title": title, "paragraphs": [{"context": context, "qas": qas}]}]}


def test_answer_start_realigned_and_drops_counted(tmp_path, caplog):
    path = tmp_path / "dev.json.xz"
    path.write_bytes(lzma.compress(json.dumps(_squad_doc()).encode()))
    with caplog.at_level("INFO"):
        checked = squad.load(path, "qa.train_file")
    q1, q2 = checked.paragraphs[0].questions
    assert (q1.id, q1.starts) == ("q1", [0, 30])
    assert q2.starts == [CONTEXT.index("at home")]
    assert checked.realigned == 2
    assert checked.dropped_answers == {"answer text not in context": 1}
    assert checked.dropped_questions == {"no answer left": 1}
    assert "2 answers realigned" in caplog.text and "'no answer left': 1" in caplog.text


def test_jsonl_rows_group_into_paragraphs(tmp_path):
    rows = [{"id": "a", "title": "T", "context": CONTEXT, "question": "Who?",
             "answers": {"text": ["Carolina"], "answer_start": [12]}},
            {"id": "b", "title": "T", "context": CONTEXT, "question": "When?",
             "answers": {"text": ["2016"], "answer_start": [1]}},
            {"id": "c", "title": "T", "context": "Other text.", "question": "What?",
             "answers": {"text": ["text"], "answer_start": [6]}}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(rows[2]) + "\n")   # a single row is one JSON object, still JSONL
    assert squad.load(one, "qa.train_file").questions == 1
    checked = squad.load(path, "qa.train_file")
    assert [(p.title, p.index, len(p.questions)) for p in checked.paragraphs] == [("T", 0, 2), ("T", 1, 1)]
    assert checked.paragraphs[0].questions[1].starts == [CONTEXT.index("2016")] and checked.realigned == 1


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match=r"^\S*nope.json: paths.qa_eval: file not found$"):
        squad.load(tmp_path / "nope.json", "paths.qa_eval")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}))
    with pytest.raises(InputError, match=r"bad.json: qa.train_file: article 0 paragraph 0: missing 'context'$"):
        squad.load(bad, "qa.train_file")
    dup = tmp_path / "dup.json"
    qa = {"id": "x", "question": "?", "answers": [{"text": "Denver", "answer_start": 0}]}
    dup.write_text(json.dumps(_squad_doc(qas=[qa, qa])))
    with pytest.raises(InputError, match="duplicate question id 'x'"):
        squad.load(dup, "qa.train_file")
    with pytest.raises(InputError) as info:
        squad.load(dup, "qa.train_file")
    assert "\n" not in str(info.value) and str(dup) in str(info.value)


def _checked(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return squad.load(path, name)


def test_a_context_on_both_sides_is_an_error(tmp_path):
    train_doc = _squad_doc()
    train_doc["data"][0]["paragraphs"].append({"context": "Unrelated words.", "qas": [
        {"id": "u", "question": "?", "answers": [{"text": "words", "answer_start": 10}]}]})
    train = _checked(tmp_path, "train.json", train_doc)
    evaluation = _checked(tmp_path, "eval.json", _squad_doc(qas=[
        {"id": "e", "question": "Who?", "answers": [{"text": "Carolina", "answer_start": 12}]}]))
    with pytest.raises(InputError, match=r"^train.json: 1 training contexts also in eval.json "
                                         r"\(first: Game paragraph 0\); list them in qa.exclude"):
        squad.split_sides(train, evaluation, set(), "train.json", "eval.json")
    kept, excluded = squad.split_sides(train, evaluation, {("Game", 0)}, "train.json", "eval.json")
    assert [p.context for p in kept] == ["Unrelated words."]
    assert excluded == {"paragraphs_excluded": 1, "questions_excluded": 2}
    with pytest.raises(InputError, match="lists 1 paragraphs it does not have .first: Game paragraph 7"):
        squad.split_sides(train, evaluation, {("Game", 0), ("Game", 7)}, "train.json", "eval.json")
    tsv = tmp_path / "exclude.tsv"
    tsv.write_text("title\tparagraph_index\tnum_questions\nGame\t0\t3\n")
    assert squad.read_exclude(tsv, "qa.exclude_file") == {("Game", 0)}
    tsv.write_text("title\tindex\nGame\t0\n")
    with pytest.raises(InputError, match="exclude.tsv: qa.exclude_file: needs a header with 'title'"):
        squad.read_exclude(tsv, "qa.exclude_file")


# ----------------------------------------------------------------------------- windows, decoding


def test_decode_picks_the_best_valid_span_across_windows():
    # Two windows of one question: tokens 0 and 1 are CLS/question (no offsets), the rest context.
    offsets = [None, None, (0, 5), (6, 10), (11, 15), None]
    windows = Windows(inputs=[{}, {}], example=[0, 0], offsets=[offsets, [None, None, (11, 15), (16, 20), (21, 30)]])
    start = np.array([[9.0, 0, 2, 1, 0, 9], [0, 0, 1, 3, 0, -100]])   # CLS and the SEP score high: never chosen
    end = np.array([[9.0, 0, 0, 1, 2, 9], [0, 0, 0, 1, 2.5, -100]])
    # window 1: best valid pair 2->4 (2 + 2 = 4, chars 0..15); window 2: 3->4 (3 + 2.5 = 5.5, chars 16..30)
    assert decode(windows, start, end, 1, n_best=20, max_answer_length=30) == [(16, 30)]
    # one token at most: window 1's singles all score 2, window 2's 3->3 scores 4
    assert decode(windows, start, end, 1, n_best=20, max_answer_length=1) == [(16, 20)]
    # window 1 alone: its top start and top end are CLS/SEP, so with n_best 1 nothing is valid
    first = Windows(inputs=[{}], example=[0], offsets=[offsets])
    assert decode(first, start[:1], end[:1], 1, n_best=1, max_answer_length=30) == [None]
    assert decode(first, start[:1], end[:1], 1, n_best=3, max_answer_length=30) == [(0, 15)]


def test_windows_label_the_answer_or_cls(tmp_path):
    context = " ".join(f"word{i}" for i in range(100)) + " Denver Broncos won."
    ckpt = tiny_checkpoint(tmp_path / "m", [context, "who won"] * 20, vocab_size=200)
    tokenizer = load_tokenizer(ckpt)
    ex = Example("q", "T", context, "Who won?", ["Denver Broncos"], [context.index("Denver")])
    windows, cut = featurize(tokenizer, [ex], Shape(max_length=48, doc_stride=16, max_query_length=8), 48, labels=True)
    assert cut == 0 and len(windows.inputs) > 2 and windows.example == [0] * len(windows.inputs)
    found = 0
    for features, offsets in zip(windows.inputs, windows.offsets):
        s, e = features["start_positions"], features["end_positions"]
        inside = [o for o in offsets if o]
        if (s, e) == (0, 0):            # CLS: the answer is not all inside this window
            assert not (inside[0][0] <= ex.starts[0] and inside[-1][1] >= ex.starts[0] + len("Denver Broncos"))
        else:
            found += 1
            assert context[offsets[s][0]:offsets[e][1]].strip() == "Denver Broncos"
    assert found >= 1
    # every context character is in some window (the stride overlaps them)
    covered = {c for offsets in windows.offsets for o in offsets if o for c in range(*o)}
    assert covered >= {i for i, ch in enumerate(context) if not ch.isspace()}


# ----------------------------------------------------------------------------- baseline


def test_sliding_window_answers_from_the_matching_sentence():
    context = ("The stadium opened in 1999 in Santa Clara. Denver won the championship title in 2016, "
               "after beating Carolina. Peyton Manning retired after the season.")
    questions = [("When did Denver win the championship title?", "2016"),
                 ("Who did Denver beat to win the title?", "Carolina"),
                 ("Who retired after the season?", "Peyton Manning")]
    exs = [Example(str(i), "T", context, q, [a], [context.index(a)]) for i, (q, a) in enumerate(questions)]
    answers = baseline.predict(exs, exs, baseline.SlidingWindow())
    assert answers == [a for _, a in questions]
    assert baseline.predict(exs, exs, baseline.SlidingWindow()) == answers  # deterministic


# ----------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_qa_end_to_end(shared_data, project, tmp_path):
    eval_doc = json.loads((shared_data / "qa/xquad/xquad.en.json").read_text())
    texts = [p["context"] for a in eval_doc["data"] for p in a["paragraphs"]]
    ckpt = tiny_checkpoint(tmp_path / "model", texts, vocab_size=2000)  # few pieces per word: few windows
    cfg = Config(data_root=str(shared_data), model=str(ckpt), qa=str(project / "qa"), plot=str(project / "qa.csv"),
                 slice=Slice(train_examples=40, eval_examples=30), train=FineTune(epochs=1, batch_size=16),
                 models=[ModelRow("pipeline"), ModelRow("floor", init="random", lr=1e-3),  # its own rate
                         ModelRow("sliding_window", checkpoint="baseline")])
    result = run(cfg)
    assert set(result["models"]) == {"pipeline", "floor", "sliding_window"}
    assert result["models"]["floor"]["finetune"] == {"lr": 1e-3, "epochs": 1}
    assert result["models"]["pipeline"]["finetune"] == {"lr": FineTune().lr, "epochs": 1}
    assert "finetune" not in result["models"]["sliding_window"]
    data = result["data"]
    # files as the config names them, under data_root: the same in every clone
    assert (data["train"]["file"], data["eval"]["file"]) == (cfg.train_file, cfg.qa_eval)
    assert data["train"]["excluded"] == {"paragraphs_excluded": 240, "questions_excluded": 1190}
    assert (data["train"]["questions"], data["eval"]["questions"]) == (9380, 1190)
    assert data["eval"]["dropped"] == {"outside the slice": 1160} and data["train"]["questions_used"] == 40
    eval_ids = {q["id"] for a in eval_doc["data"] for p in a["paragraphs"] for q in p["qas"]}
    for name, res in result["models"].items():
        assert 0 <= res["metrics"]["exact_match"] <= res["metrics"]["f1"] <= 100
        lines = [json.loads(line) for line in (project / "qa" / name / "predictions.jsonl").read_text().splitlines()]
        assert len(lines) == 30 and len({r["id"] for r in lines}) == 30 and {r["id"] for r in lines} <= eval_ids
        assert all(set(r) == {"id", "input", "reference", "prediction"} and r["reference"] for r in lines)
    assert result["score"]["sliding_window"] > 0          # the lexical baseline finds some answers
    assert result["models"]["pipeline"]["train_windows"] > 40 and result["models"]["pipeline"]["flops"] > 0
    assert (project / "qa.csv").read_text().count("\n") == 1 + 3 * 2
    assert "| sliding_window | baseline |" in (project / "qa" / "table.md").read_text()
    # A crash after the rows finished: the partial dir holds them, one marked; all are reused.
    shutil.copytree(project / "qa", project / "qa.partial")
    done = project / "qa.partial" / "floor" / "result.json"
    saved = json.loads(done.read_text())
    saved["result"]["metrics"]["f1"] = 12.34
    done.write_text(json.dumps(saved))
    again = run(cfg)
    assert again["score"]["floor"] == 12.34 and again["score"]["pipeline"] == result["score"]["pipeline"]
    assert not (project / "qa.partial").exists()


def test_config_checks_and_partial_overrides():
    with pytest.raises(ConfigError, match=r"^qa: doc_stride: out of range"):
        build(Config, {"doc_stride": 0}, prefix="qa")
    cfg = build(Config, {"train": {"lr": 1e-4}, "slice": {"eval_examples": 50}}, prefix="qa")
    assert (cfg.train.lr, cfg.train.epochs, cfg.slice.train_examples) == (1e-4, Config().train.epochs, 80)
    with pytest.raises(ValueError, match="names must be unique"):
        Config(models=[ModelRow("a"), ModelRow("a")])


def test_windows_too_small_for_the_stride(tmp_path):
    from pipeline.qa.model import check_shape

    ckpt = tiny_checkpoint(tmp_path / "m", ["who won the game"] * 20, vocab_size=100)
    tokenizer = load_tokenizer(ckpt)
    assert check_shape(tokenizer, 128, Shape(max_length=384, doc_stride=32, max_query_length=32), ckpt) == 128
    with pytest.raises(InputError, match=r"windows of 64 tokens leave 29 for the context, not more than qa.doc_stride 32"):
        check_shape(tokenizer, 64, Shape(max_length=384, doc_stride=32, max_query_length=32), ckpt)
