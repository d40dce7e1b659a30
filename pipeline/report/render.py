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


def render_markdown(report: dict) -> str:
    lines = ["# lmpipe report", ""]
    stages = report["stages"]
    times = [(s, m.get("wall_time_s")) for s, m in stages.items()]
    lines += ["| stage | wall time (s) |", "|---|---:|"]
    lines += [f"| {s} | {_fmt(t)} |" for s, t in times]
    lines.append("")
    lines += glue_table(report.get("glue") or {})
    for stage, metrics in stages.items():
        lines += [f"## {stage}", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in _scalar_rows(metrics)]
        lines.append("")
    return "\n".join(lines)
