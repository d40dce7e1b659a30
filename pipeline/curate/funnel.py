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
from datatrove.utils.stats import PipelineStats, Stats

from pipeline.curate.recipe import Job


class FunnelError(RuntimeError):
    """The counts do not balance: a bug, never a user error."""


def job_stats(logs: Path, job: Job) -> list[Stats]:
    files = sorted((logs / job.name / "stats").glob("*.json"))
    total = sum((PipelineStats.from_json(json.loads(f.read_text())) for f in files), start=PipelineStats())
    return total.stats


def count(stats: Stats, key: str) -> int:
    return int(stats.stats[key].total) if key in stats.stats else 0


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
        for name, step_stats in zip(job.steps, stats):
            timing.append({"job": job.name, "step": name or step_stats.name,
                           "time_s": round(step_stats.time_stats.total, 3)})
            if name is None:
                continue
            docs_in = count(step_stats, "total")
            kept = count(step_stats, "forwarded") if "forwarded" in step_stats.stats or "dropped" in step_stats.stats \
                else docs_in  # formatters forward everything and count only `total`
            reasons = removed_by_reason(removed / name)
            steps[name] = {"docs_in": docs_in, "kept": kept, "removed": reasons,
                           "time_s": round(step_stats.time_stats.total, 2)}
            extra = {k: count(step_stats, k) for k in ("no_url", "anonymized", "missing_badwords_lang")
                     if k in step_stats.stats}
            steps[name].update(extra)
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
