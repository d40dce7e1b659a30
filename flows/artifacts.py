"""Stage metrics published as Prefect artifacts, so the UI shows what each stage produced."""
from __future__ import annotations

import json

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from pipeline.artifacts import metrics_path


def flat(metrics: dict, prefix: str = "") -> list[dict]:
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            rows.extend(flat(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            rows.append({"metric": f"{prefix}{key}", "value": value})
    return rows


def publish(stage: str, metrics: dict) -> None:
    """A table of the stage's metrics; the GLUE report card and the run report as markdown."""
    key = f"lmpipe-{stage}"  # artifact keys: lowercase letters, digits and dashes
    create_table_artifact(key=key, table=flat(metrics), description=f"lmpipe {stage} metrics")
    glue = metrics_path("glue")
    if stage == "finetune" and glue.exists():
        card = json.loads(glue.read_text())
        if isinstance(card.get("markdown"), str):
            create_markdown_artifact(key="lmpipe-glue", markdown=card["markdown"],
                                     description="GLUE report card")
