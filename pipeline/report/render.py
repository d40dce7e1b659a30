"""Markdown rendering of the report: a section per stage with its scalar metrics."""
from __future__ import annotations

import json


def _scalar_rows(metrics: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Flatten nested dicts one level deep; lists are summarised by their length."""
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if prefix:  # deeper nesting belongs in the JSON, not in the headline page
                continue
            rows.extend(_scalar_rows(value, prefix=f"{name}."))
        elif isinstance(value, list):
            rows.append((name, f"{len(value)} items"))
        else:
            rows.append((name, value))
    return rows


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def glue_table(glue: dict) -> list[str]:
    """glue.json carries a ready markdown table when the finetune stage wrote one."""
    if not glue:
        return []
    if isinstance(glue.get("markdown"), str):
        return ["## GLUE", "", glue["markdown"], ""]
    return ["## GLUE", "", "```json", *json.dumps(glue, indent=2).splitlines(), "```", ""]


def application_tables(applications: dict[str, dict]) -> list[str]:
    """Each application stage's own markdown table (pipeline/apps/common.py markdown_table)."""
    lines = []
    for metrics in applications.values():
        lines += [metrics["markdown"].replace("# ", "## ", 1), ""]
    return lines


def challenges(report: dict) -> list[str]:
    """Cost, bias and the model's CrowS-Pairs score, in a few lines (index.html has the tables)."""
    lines = []
    if report.get("cost"):
        total = report["cost"]["total"]
        lines += ["## Cost", "", f"{_fmt(total['energy_kwh'])} kWh, {_fmt(total['co2e_kg'])} kg CO2e, "
                  f"{_fmt(total['wall_time_s'])} s over all stages ({', '.join(report['cost']['method'])}).", ""]
    if report.get("corpus_bias"):
        raw, kept = report["corpus_bias"]["raw"], report["corpus_bias"]["kept"]
        lines += ["## Bias", "", f"- male : female words, raw {_fmt(raw['male_to_female'])} -> kept "
                  f"{_fmt(kept['male_to_female'])}; bad-words document rate {_fmt(raw['badword_doc_rate'])} -> "
                  f"{_fmt(kept['badword_doc_rate'])}"]
        crows = report["crows_pairs"]["pipeline"]
        lines += [f"- CrowS-Pairs: {_fmt(crows['metric'])} (unbiased: 50)" if "metric" in crows
                  else f"- CrowS-Pairs: not scored ({crows['skipped']})", ""]
    return lines


def render_markdown(report: dict) -> str:
    lines = ["# lmpipe report", ""]
    stages = report["stages"]
    times = [(s, m.get("wall_time_s")) for s, m in stages.items()]
    lines += ["| stage | wall time (s) |", "|---|---:|"]
    lines += [f"| {s} | {_fmt(t)} |" for s, t in times]
    lines.append("")
    lines += glue_table(report.get("glue") or {})
    lines += application_tables(report.get("applications") or {})
    lines += challenges(report)
    for stage, metrics in stages.items():
        lines += [f"## {stage}", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in _scalar_rows(metrics)]
        lines.append("")
    return "\n".join(lines)
