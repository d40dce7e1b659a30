"""The plots: dvc.yaml's definitions and .dvc/plots templates, filled by pipeline.plots from data
files shaped as the stages write them, in a scratch project (no pipeline run)."""
import json
import re
import shutil
import subprocess
import sys
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import vl_convert as vlc
import yaml

from pipeline import plots
from pipeline.curate import funnel
from conftest import REPO

# pipeline order; alphabetically decontaminate, exact_dedup, input, length
FUNNEL = ["length", "exact_dedup", "decontaminate"]
RECIPES = {"gutenberg": "books", "enwiki": "encyclopedic"}


def write_sources(folder, sources):
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": [str(i) for i in range(len(sources))], "source": sources}),
                   folder / "00000.parquet")


@pytest.fixture
def plot_project(project):
    """The project's plot definitions and templates, with data files as curate, finetune and
    pretrain write them."""
    top = {"plots": yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]}
    (project / "dvc.yaml").write_text(yaml.safe_dump(top, sort_keys=False))
    shutil.copytree(REPO / ".dvc" / "plots", project / ".dvc" / "plots")
    curated = project / "curated"
    write_sources(curated / "docs", ["gutenberg", "enwiki", "cc", "cc"])
    write_sources(curated / "removed" / "length", ["cc", "gutenberg", "cc"])
    write_sources(curated / "removed" / "exact_dedup", ["enwiki"])
    steps = {"length": {"docs_in": 8, "kept": 5}, "exact_dedup": {"docs_in": 5, "kept": 4},
             "decontaminate": {"docs_in": 4, "kept": 4}}
    (project / "plots").mkdir()
    (project / "plots/curate_funnel.csv").write_text(
        funnel.csv_rows(steps, FUNNEL, curated, lambda source: RECIPES.get(source, "base")))
    glue = {"pipeline": (5.99, 58.6, 39.44, 34.68), "classical": (4.0, 69.84, 19.72, 31.19),
            "floor": (0.0, 50.9, 56.34, 35.75)}  # the last task, GLUE, is the average
    (project / "plots/glue.csv").write_text("bar,model,task,score\n" + "".join(
        f"{m} {t},{m},{t},{s}\n" for m, scores in glue.items()
        for t, s in zip(["CoLA", "SST-2", "WNLI", "GLUE"], scores)))
    (project / "plots/pretrain_loss.tsv").write_text("step\tloss\tlr\ttokens\n" + "".join(
        f"{s}\t{9 - s / 10:.6f}\t1.0e-04\t{s * 4096}\n" for s in range(1, 21)))
    (project / "plots/pretrain_val.tsv").write_text("step\tval_loss\tval_ppl\n10\t8.4\t4447.1\n20\t7.9\t2697.3\n")
    return project


def test_funnel_csv_counts_each_recipe_back_from_the_kept_docs(plot_project):
    rows = (plot_project / "plots/curate_funnel.csv").read_text().splitlines()
    assert rows[0] == "step,recipe,docs,removed"
    table = [row.split(",") for row in rows[1:]]
    assert [step for step, *_ in table[::3]] == ["input", *FUNNEL]
    assert table[:6] == [["input", "base", "4", "0"], ["input", "books", "2", "0"],
                         ["input", "encyclopedic", "2", "0"], ["length", "base", "2", "2"],
                         ["length", "books", "1", "1"], ["length", "encyclopedic", "2", "0"]]
    assert table[-3:] == [["decontaminate", "base", "2", "0"], ["decontaminate", "books", "1", "0"],
                          ["decontaminate", "encyclopedic", "1", "0"]]


def test_funnel_csv_that_does_not_balance_is_an_error(plot_project):
    with pytest.raises(funnel.FunnelError, match="hold 8 documents, length read 9"):
        funnel.csv_rows({"length": {"docs_in": 9}}, FUNNEL, plot_project / "curated", str)


def test_funnel_in_pipeline_order_coloured_by_recipe_with_removed_labels(plot_project):
    spec = plots.spec("curate_funnel")
    assert spec["encoding"]["y"]["sort"] is None  # the file's order: input first, kept last
    assert [v["step"] for v in spec["data"]["values"][::3]] == ["input", *FUNNEL]
    assert spec["layer"][0]["encoding"]["color"]["field"] == "recipe"
    svg = vlc.vegalite_to_svg(spec)
    steps = re.findall(r">(input|length|exact_dedup|decontaminate)<", svg)  # the y axis's labels, top down
    assert steps == ["input", *FUNNEL]
    labels = re.findall(r">(\u2212\d+|[\d,]+ in)<", svg)
    assert labels == ["8 in", "\u22123", "\u22121", "\u22120"]  # every bar its removed count


def test_glue_grouped_by_task_models_as_colour_average_apart(plot_project):
    spec = plots.spec("glue")
    tasks, average = spec["hconcat"]
    assert tasks["encoding"]["y"]["field"] == "task" and tasks["encoding"]["yOffset"]["field"] == "model"
    assert tasks["encoding"]["color"]["field"] == average["encoding"]["color"]["field"] == "model"
    assert tasks["transform"] == [{"filter": "datum['task'] !== 'GLUE'"}]
    assert average["transform"] == [{"filter": "datum['task'] === 'GLUE'"}]
    assert average["encoding"]["y"]["field"] == "model"
    svg = vlc.vegalite_to_svg(spec)
    assert "GLUE average" in svg and ">floor<" in svg and ">SST-2<" in svg


def test_loss_has_both_curves_and_a_tokens_axis(plot_project):
    spec = plots.spec("pretrain_loss")
    values = spec["data"]["values"]
    assert Counter(v["field"] for v in values) == {"loss": 20, "val_loss": 2}
    curves, tokens = spec["layer"]
    assert curves["encoding"]["color"]["field"] == "field"
    assert tokens["encoding"]["x"]["field"] == "tokens" and tokens["encoding"]["x"]["axis"]["orient"] == "top"
    assert spec["resolve"] == {"scale": {"x": "independent"}}
    svg = plots.svg("pretrain_loss")
    assert svg.startswith("<svg") and "tokens seen" in svg and "val_loss" in svg


def test_unknown_plot_and_missing_data_are_input_errors(plot_project):
    from pipeline.errors import InputError

    with pytest.raises(InputError, match="no plot 'nope'"):
        plots.spec("nope")
    (plot_project / "plots/glue.csv").unlink()
    with pytest.raises(InputError, match="plot glue: no data yet"):
        plots.spec("glue")
    assert sorted(plots.specs()) == ["curate_funnel", "pretrain_loss"]


def test_render_all_writes_each_plot(plot_project):
    written = plots.render_all("out")
    assert sorted(p.name for p in written) == sorted(f"{n}.{ext}" for n in ("curate_funnel", "glue", "pretrain_loss")
                                                     for ext in ("html", "png"))


def test_same_spec_as_dvc_plots_show(plot_project):
    shutil.rmtree(plot_project / ".dvc")  # dvc init wants no .dvc/; the templates go back in after
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=plot_project, check=True)
    shutil.copytree(REPO / ".dvc" / "plots", plot_project / ".dvc" / "plots")
    proc = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "--json"], cwd=plot_project,
                          capture_output=True, text=True, check=True)
    # plots whose data files this project lacks (the applications') are listed with no entries
    shown = {name: entries[0]["content"] for name, entries in json.loads(proc.stdout)["data"].items() if entries}
    assert shown == plots.specs()
