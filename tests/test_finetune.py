"""finetune stage: config checks, held-out split, prediction files, report card, end to end."""
import json
import shutil

import datasets
import numpy as np
import pytest

from glue_fixtures import tiny_checkpoint, write_tsv
from pipeline.config import build
from pipeline.errors import ConfigError, InputError
from pipeline.finetune import Config, report_card, run
from pipeline.finetune.submission import write_dev_predictions, write_submission
from pipeline.glue import TASKS
from pipeline.finetune.train import HParams, split_heldout
from pipeline.runner import run_stage


def test_config_checks():
    with pytest.raises(ConfigError, match=r"^finetune: tasks: unknown task 'glue'"):
        build(Config, {"tasks": ["glue"]}, prefix="finetune")
    with pytest.raises(ConfigError, match="'ax' is scored by the MNLI model"):
        build(Config, {"tasks": ["rte", "ax"]}, prefix="finetune")
    with pytest.raises(ConfigError, match=r"^finetune.task_train.rte.lr: expected a number"):
        build(Config, {"tasks": ["rte"], "task_train": {"rte": {"lr": "fast"}}}, prefix="finetune")
    with pytest.raises(ConfigError, match=r"^finetune.task_train.rte.epochz: unknown key"):
        build(Config, {"tasks": ["rte"], "task_train": {"rte": {"epochz": 2}}}, prefix="finetune")
    with pytest.raises(ConfigError, match=r"^finetune.train: heldout_fraction: out of range"):
        build(Config, {"train": {"heldout_fraction": 1.5}}, prefix="finetune")
    with pytest.raises(ConfigError, match=r"^finetune: task_train.stbs: unknown task"):
        build(Config, {"tasks": ["rte"], "task_train": {"stbs": {"lr": 1e-4}}}, prefix="finetune")
    # params.yaml's settings of a task not selected now (`--set finetune.tasks=[rte]`) are kept, not an error
    cfg = build(Config, {"tasks": ["rte"], "task_train": {"stsb": {"pair_encoding": "bi"}}}, prefix="finetune")
    assert list(cfg.hparams) == ["rte"] and cfg.task_train["stsb"] == {"pair_encoding": "bi"}
    with pytest.raises(ConfigError, match=r"^finetune.task_train.stsb.pair_encoding"):
        build(Config, {"tasks": ["rte"], "task_train": {"stsb": {"pair_encoding": "siamese"}}}, prefix="finetune")


def test_per_task_hparams_override_one_key():
    cfg = build(Config, {"tasks": ["rte", "cola"], "train": {"lr": 3e-4, "epochs": 2},
                         "task_train": {"rte": {"epochs": 5}}}, prefix="finetune")
    assert (cfg.hparams["rte"].lr, cfg.hparams["rte"].epochs) == (3e-4, 5)
    assert (cfg.hparams["cola"].lr, cfg.hparams["cola"].epochs) == (3e-4, 2)


def test_heldout_split_is_disjoint_and_capped():
    ds = datasets.Dataset.from_dict({"idx": list(range(100)), "label": [i % 2 for i in range(100)]})
    train, held = split_heldout(ds, HParams(heldout_fraction=0.2, heldout_max=15, max_train_examples=30), seed=1)
    assert len(held) == 15 and len(train) == 30
    assert not set(train["idx"]) & set(held["idx"])
    again, _ = split_heldout(ds, HParams(heldout_fraction=0.2, heldout_max=15, max_train_examples=30), seed=1)
    assert again["idx"] == train["idx"]  # the seed fixes the split


def test_prediction_files(tmp_path):
    ds = datasets.Dataset.from_dict({"idx": [0, 1], "label": [-1, -1]})
    path = write_submission(TASKS["rte"], "test", ds, np.array([1, 0]), tmp_path)
    assert path.name == "RTE.tsv"
    assert path.read_text() == "index\tprediction\n0\tnot_entailment\n1\tentailment\n"
    path = write_submission(TASKS["stsb"], "test", ds, np.array([4.25, 0.0]), tmp_path)
    assert path.read_text() == "index\tprediction\n0\t4.250\n1\t0.000\n"
    dev = datasets.Dataset.from_dict({"idx": [3], "label": [1]})
    path = write_dev_predictions(TASKS["cola"], "dev", dev, np.array([0]), tmp_path)
    assert path.read_text() == "index\tlabel\tprediction\n3\t1\t0\n"


def test_report_card_has_reference_rows():
    models = {"pipeline": {"init": "pretrained", "glue_score": 50.0,
                           "tasks": {"cola": {"metrics": {"mcc": 10.0}, "score": 10.0},
                                     "mrpc": {"metrics": {"f1": 80.0, "accuracy": 70.0}, "score": 75.0,
                                              "std": {"f1": 1.0, "accuracy": 2.0}}}}}
    md = report_card.markdown(models, ["cola", "mrpc"])
    assert "| pipeline (pretrained) | 50.0 | 10.0 | 80.0/70.0 ±1.0/2.0 |" in md
    # BERT-Small on CoLA + MRPC: mean(27.8, (83.4 + 76.2) / 2) = 53.8
    assert "| BERT-Small (L4/H512) [ref, test] | 53.8 (all 9: 71.2) | 27.8 | 83.4/76.2 |" in md
    assert "test-set" in md and "Turc et al. 2019" in md
    assert report_card.plot_csv(models, ["cola", "mrpc"]).splitlines() == [
        "bar,model,task,score", "pipeline CoLA,pipeline,CoLA,10.0", "pipeline MRPC,pipeline,MRPC,75.0",
        "pipeline GLUE,pipeline,GLUE,50.0"]


# ----------------------------------------------------------------------------- end to end

def _small_glue(shared_data, root, n=80):
    """The first rows of the real CoLA, MRPC and STS-B files, in the original layout."""
    for name in ("cola", "mrpc", "stsb"):
        task = TASKS[name]
        for split in task.splits:
            lines = (shared_data / "glue" / task.dir / f"{split}.tsv").read_text(encoding="utf-8-sig").splitlines()
            (root / task.dir).mkdir(parents=True, exist_ok=True)
            (root / task.dir / f"{split}.tsv").write_text("\n".join(lines[:n]) + "\n")
    return root


@pytest.fixture(scope="module")
def tiny_setup(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    glue = _small_glue(shared_data, root / "glue")
    texts = [line for p in glue.rglob("*.tsv") for line in p.read_text().splitlines()]
    return root, tiny_checkpoint(root / "model", texts)


def _params(root, **finetune):
    return {"data_root": str(root), "paths": {"model": str(root / "model"), "finetune": str(root / "out")},
            "finetune": {"tasks": ["cola", "mrpc", "stsb"],
                         "models": [{"name": "pipeline"}, {"name": "floor", "init": "random"}],
                         "train": {"epochs": 2, "batch_size": 16, "max_length": 32, "seeds": [0, 1],
                                   "max_train_examples": 40, "heldout_fraction": 0.2},
                         "glue_metrics": str(root / "glue.json"), "plot": str(root / "glue.csv"), **finetune}}


@pytest.mark.slow
def test_finetune_end_to_end(tiny_setup, project):
    root, _ = tiny_setup
    params = _params(root)
    metrics = run_stage("finetune", params, params_path=_write_params(project, params))
    out = root / "out"
    glue = json.loads((root / "glue.json").read_text())
    assert set(glue["models"]) == {"pipeline", "floor"}
    for model, res in glue["models"].items():
        assert metrics["glue_score"][model] == res["glue_score"]
        assert set(res["tasks"]) == {"cola", "mrpc", "stsb"}
        mrpc = res["tasks"]["mrpc"]
        assert set(mrpc["metrics"]) == {"f1", "accuracy"} and set(mrpc["std"]) == {"f1", "accuracy"}
        assert mrpc["train_examples"] == 40 and len(mrpc["heldout_score"]) == 2
        # the mean is over the seeds recorded one by one
        per_seed = [m["f1"] for m in mrpc["per_seed"]]
        assert len(per_seed) == 2 and abs(sum(per_seed) / 2 - mrpc["metrics"]["f1"]) < 0.01
        assert all(1 <= e <= 2 for e in mrpc["epochs_run"])
        for task, n_test in (("CoLA", 79), ("MRPC", 79), ("STS-B", 79)):
            lines = (out / model / "submission" / f"{task}.tsv").read_text().splitlines()
            assert lines[0] == "index\tprediction" and len(lines) == n_test + 1
        dev = (out / model / "predictions" / "stsb_dev.tsv").read_text().splitlines()
        assert len(dev) == 80 and all(0 <= float(r.split("\t")[2]) <= 5 for r in dev[1:])
        assert not (out / model / "_work").exists()
    assert "BERT-Tiny" in (out / "glue.md").read_text() and (out / "config.yaml").exists()
    assert (root / "glue.csv").read_text().count("\n") == 1 + 2 * 4
    assert not (root / "out.partial").exists()


@pytest.mark.slow
def test_resume_reuses_finished_tasks(tiny_setup, project):
    root, _ = tiny_setup
    params = _params(root, tasks=["cola"], models=[{"name": "pipeline"}],
                     train={"epochs": 1, "max_train_examples": 20, "max_length": 32})
    params_path = _write_params(project, params)
    run_stage("finetune", params, params_path=params_path)
    # Simulate a crash after cola finished: the partial dir holds its result, marked 12.34.
    shutil.copytree(root / "out", root / "out.partial")
    done = root / "out.partial" / "pipeline" / "cola.json"
    saved = json.loads(done.read_text())
    saved["result"]["score"] = 12.34
    done.write_text(json.dumps(saved))
    assert run_stage("finetune", params, params_path=params_path)["glue_score"]["pipeline"] == 12.34
    params["finetune"]["train"]["lr"] = 3e-4  # other hyperparameters: the old result is not reused
    shutil.copytree(root / "out", root / "out.partial")
    assert run_stage("finetune", params, params_path=params_path)["glue_score"]["pipeline"] != 12.34


@pytest.mark.slow
def test_missing_task_fails_before_training(tiny_setup, project):
    root, _ = tiny_setup
    params = _params(root, tasks=["cola", "rte"])
    with pytest.raises(InputError, match=r"^rte: .*RTE: task not found"):
        run_stage("finetune", params, params_path=_write_params(project, params))
    assert not (root / "out.partial").exists()


@pytest.mark.slow
def test_missing_checkpoint(tiny_setup, project):
    root, _ = tiny_setup
    params = _params(root, models=[{"name": "x", "checkpoint": str(root / "nope")}])
    with pytest.raises(InputError, match="nope: not a Hugging Face checkpoint"):
        run_stage("finetune", params, params_path=_write_params(project, params))


def _write_params(project, params):
    """A params.yaml for run_stage; `params` also goes in as overrides, so it wins."""
    path = project / "params.yaml"
    path.write_text("profile: default\n")
    return path
