"""Rendering of `lmpipe inspect` as rich tables, or JSON with --json."""
from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from pipeline.config import load_params
from pipeline.errors import ConfigError
from pipeline.inspect.state import pipeline_state
from pipeline.inspect.summaries import SUMMARIES


def _table(title: str, rows: list[dict]) -> Table:
    table = Table(title=title, title_justify="left")
    columns = list(rows[0]) if rows else []
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    return table


def _scalars(metrics: dict, prefix: str = "") -> list[dict]:
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            rows.extend(_scalars(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                continue  # tables of their own, shown in JSON mode
            rows.append({"metric": f"{prefix}{key}", "value": value})
        else:
            rows.append({"metric": f"{prefix}{key}", "value": value})
    return rows


def render(stage: str, summary: dict, console: Console) -> None:
    console.print(_table(f"{stage}: metrics", _scalars(summary.get("metrics", {}))))
    for key, value in summary.items():
        if key == "metrics" or not value:
            continue
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            console.print(_table(f"{stage}: {key}", value))
        elif isinstance(value, dict) and key in ("glue", "table") and isinstance(value.get("markdown"), str):
            from rich.markdown import Markdown

            console.print(Markdown(value["markdown"]))
        elif isinstance(value, dict):
            console.print(_table(f"{stage}: {key}", _scalars(value)))
        else:
            console.print(f"[bold]{key}[/]: {value}")


def main(stage: str | None, as_json: bool, params_path: str | None = None) -> int:
    console = Console()
    if stage is None:
        rows = pipeline_state()
        if as_json:
            print(json.dumps(rows, indent=2))
        else:
            console.print(_table("lmpipe pipeline", rows))
        return 0
    if stage not in SUMMARIES:
        raise ConfigError(f"{stage}: unknown stage (known: {', '.join(SUMMARIES)})")
    summary = SUMMARIES[stage](load_params(params_path).get("paths") or {})
    if as_json:
        json.dump(summary, sys.stdout, indent=2, default=str)
        print()
    else:
        render(stage, summary, console)
    return 0
