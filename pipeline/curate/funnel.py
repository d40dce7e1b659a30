"""The funnel: for every step, documents in, kept, and removed by reason, checked for balance.

Counts in/kept come from datatrove's per-task stats (logs/<job>/stats/*.json, which survive a
resumed run, unlike the job-level stats.json); removed-by-reason from the removed/<step>/
parquet itself, so the metrics describe what is on disk.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.curate.recipe import Job


class FunnelError(RuntimeError):
    """The counts do not balance: a bug, never a user error."""


def _value(stat) -> float:
    """A stat as datatrove saves it: a number, or a dict with its `total`."""
    return stat.get("total", 0) if isinstance(stat, dict) else stat


def job_stats(logs: Path, job: Job) -> list[dict]:
    """Per pipeline step of `job`: name, time (s) and counters, summed over the tasks' files.
    Read from the JSON directly: datatrove's Stats.from_dict leaves counters unparsed."""
    steps: list[dict] = []
    for path in sorted((logs / job.name / "stats").glob("*.json")):
        for i, step in enumerate(json.loads(path.read_text())):
            if i == len(steps):
                steps.append({"name": step["name"], "time": 0.0, "counts": Counter()})
            steps[i]["time"] += _value(step.get("time_stats", 0))
            steps[i]["counts"].update({k: _value(v) for k, v in step["stats"].items()})
    return steps


def removed_by_reason(folder: Path) -> dict[str, int]:
    counts: Counter = Counter()
    for path in sorted(folder.glob("*.parquet")):
        counts.update(pq.read_table(path, columns=["reason"]).column("reason").to_pylist())
    return dict(sorted(counts.items()))


def build(logs: Path, removed: Path, jobs: list[Job], funnel: list[str]) -> tuple[dict, list[dict]]:
    """(per-step dict, timing rows). Raises FunnelError if any step does not balance."""
    steps: dict[str, dict] = {}
    timing = []
    for job in jobs:
        stats = job_stats(logs, job)
        for name, step in zip(job.steps, stats):
            counts = step["counts"]
            timing.append({"job": job.name, "step": name or step["name"], "time_s": round(step["time"], 3)})
            if name is None:
                continue
            # filters count `forwarded`; formatters (pii) forward everything and count only `total`
            is_filter = "forwarded" in counts or "dropped" in counts
            steps[name] = {"docs_in": int(counts["total"]),
                           "kept": int(counts["forwarded"] if is_filter else counts["total"]),
                           "removed": removed_by_reason(removed / name), "time_s": round(step["time"], 2)}
            steps[name].update({k: int(counts[k]) for k in ("no_url", "anonymized", "missing_badwords_lang")
                                if k in counts})
    check(steps, funnel)
    return steps, timing


def check(steps: dict[str, dict], funnel: list[str]) -> None:
    previous_kept = None
    for name in funnel:
        s = steps.get(name)
        if s is None:
            raise FunnelError(f"curate funnel: no stats for step {name}")
        if s["docs_in"] != s["kept"] + sum(s["removed"].values()):
            raise FunnelError(f"curate funnel: {name}: {s['docs_in']} in != {s['kept']} kept "
                              f"+ {sum(s['removed'].values())} removed {s['removed']}")
        if previous_kept is not None and s["docs_in"] != previous_kept:
            raise FunnelError(f"curate funnel: {name} read {s['docs_in']} docs, the step before kept {previous_kept}")
        previous_kept = s["kept"]


def by_recipe(folder: Path, recipe_of: Callable[[str | None], str]) -> Counter:
    """Documents of the parquet shards in `folder` per recipe of their `source`."""
    sources: Counter = Counter()
    for path in sorted(folder.glob("*.parquet")):
        sources.update(pq.read_table(path, columns=["source"]).column("source").to_pylist())
    counts: Counter = Counter()
    for source, n in sources.items():
        counts[recipe_of(source)] += n
    return counts


def csv_rows(steps: dict[str, dict], funnel: list[str], out: Path, recipe_of: Callable[[str | None], str]) -> str:
    """plots/curate_funnel.csv: per step, input first and then in pipeline order, and per recipe
    (`recipe_of` a document's source), the documents left after the step and those it removed.
    Counted back from the kept docs/, each step's input being what it kept plus what it removed:
    dedup and decontamination have no recipe of their own, but their documents' sources do."""
    left = by_recipe(out / "docs", recipe_of)
    rows = []
    for name in reversed(funnel):
        removed = by_recipe(out / "removed" / name, recipe_of)
        rows.append((name, left, removed))
        left = left + removed
    rows.append(("input", left, Counter()))
    if funnel and sum(left.values()) != steps[funnel[0]]["docs_in"]:
        raise FunnelError(f"curate funnel: docs/ and removed/ hold {sum(left.values())} documents, "
                          f"{funnel[0]} read {steps[funnel[0]]['docs_in']}")
    lines = ["step,recipe,docs,removed"] + [f"{name},{recipe},{kept[recipe]},{removed[recipe]}"
                                            for name, kept, removed in reversed(rows) for recipe in sorted(left)]
    return "\n".join(lines) + "\n"
