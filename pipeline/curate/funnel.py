"""The funnel: for every step, documents in, kept, and removed by reason, checked for balance.

Counts in/kept come from datatrove's per-task stats (logs/<job>/stats/*.json, which survive a
resumed run, unlike the job-level stats.json); removed-by-reason from the removed/<step>/
parquet itself, so the metrics describe what is on disk.
"""
from __future__ import annotations

import json
from collections import Counter
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


def csv_rows(docs_in: int, steps: dict[str, dict], funnel: list[str]) -> str:
    lines = ["step,docs", f"input,{docs_in}"] + [f"{name},{steps[name]['kept']}" for name in funnel]
    return "\n".join(lines) + "\n"
