"""The GLUE report card: a markdown table, the rows of the bar plot, and reference rows.

Reference rows are the published GLUE *test-set* scores of Google's compact BERTs (Turc et al.
2019, "Well-Read Students Learn Better: On the Importance of Pre-training Compact Models",
arXiv:1908.08962; table in the google-research/bert README, best of lr {3e-4, 1e-4, 5e-5, 3e-5}
x batch {8..128}, 4 epochs). Our rows are GLUE *dev* scores after a CPU-budget fine-tune, so the
comparison is indicative only.
"""
from __future__ import annotations

from pipeline.finetune.metrics import glue_score, task_score
from pipeline.glue import TASKS

REFERENCE_SOURCE = ("Turc et al. 2019, Well-Read Students Learn Better (arXiv:1908.08962), "
                    "google-research/bert README; GLUE test set")
_REF_COLUMNS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")


def _ref(score, cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli) -> dict:
    values = dict(zip(_REF_COLUMNS, (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli)))
    names = {"cola": ("mcc",), "mrpc": ("f1", "accuracy"), "qqp": ("f1", "accuracy"),
             "stsb": ("pearson", "spearman"), "mnli": ("accuracy_matched", "accuracy_mismatched")}
    tasks = {t: dict(zip(names.get(t, ("accuracy",)), v if isinstance(v, tuple) else (v,)))
             for t, v in values.items()}
    return {"published_glue_score": score, "tasks": tasks}


# Score, CoLA, SST-2, MRPC F1/acc, STS-B Pearson/Spearman, QQP F1/acc, MNLI-m/mm, QNLI, RTE, WNLI
REFERENCE = {
    "BERT-Tiny (L2/H128)": _ref(64.2, 0.0, 83.2, (81.1, 71.1), (74.3, 73.6), (62.2, 83.4), (70.2, 70.3), 81.5, 57.2, 62.3),
    "BERT-Mini (L4/H256)": _ref(65.8, 0.0, 85.9, (81.1, 71.8), (75.4, 73.3), (66.4, 86.2), (74.8, 74.3), 84.1, 57.9, 62.3),
    "BERT-Small (L4/H512)": _ref(71.2, 27.8, 89.7, (83.4, 76.2), (78.8, 77.0), (68.1, 87.0), (77.6, 77.0), 86.4, 61.8, 62.3),
}

DISPLAY = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "qqp": "QQP",
           "mnli": "MNLI", "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}


def _cell(metrics: dict, std: dict | None = None) -> str:
    values = "/".join(f"{v:.1f}" for v in metrics.values())
    if std:
        values += " ±" + "/".join(f"{v:.1f}" for v in std.values())
    return values


def markdown(models: dict, tasks: list[str]) -> str:
    """One row per fine-tuned model, then the reference rows restricted to the same tasks."""
    header = ["model", f"GLUE ({len(tasks)} tasks)"] + [
        f"{DISPLAY[t]} ({'/'.join(TASKS[t].metrics)})" for t in tasks]
    rows = [header, ["---"] * len(header)]
    for name, res in models.items():
        cells = [_cell(res["tasks"][t]["metrics"], res["tasks"][t].get("std")) for t in tasks]
        rows.append([f"{name} ({res['init']})", f"{res['glue_score']:.1f}", *cells])
    for name, ref in REFERENCE.items():
        subset = glue_score({t: task_score(ref["tasks"][t]) for t in tasks})
        rows.append([f"{name} [ref, test]", f"{subset:.1f} (all 9: {ref['published_glue_score']})",
                     *[_cell(ref["tasks"][t]) for t in tasks]])
    table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    return (f"# GLUE report card\n\n{table}\n\n"
            "Our rows: GLUE **dev** sets, scored once after model selection on a slice held out from "
            "train; x100; `±` is the standard deviation over seeds. GLUE = mean of task scores, "
            "dual-metric tasks averaged.\n\n"
            f"Reference rows: published **test-set** numbers ({REFERENCE_SOURCE}), GLUE column "
            "recomputed over the tasks above, their 9-task score in brackets.\n")


def plot_csv(models: dict, tasks: list[str]) -> str:
    """Rows of the DVC bar plot: one bar per model and task plus the GLUE score."""
    lines = ["bar,model,task,score"]
    for name, res in models.items():
        for t in tasks:
            lines.append(f"{name} {DISPLAY[t]},{name},{DISPLAY[t]},{res['tasks'][t]['score']}")
        lines.append(f"{name} GLUE,{name},GLUE,{res['glue_score']}")
    return "\n".join(lines) + "\n"
