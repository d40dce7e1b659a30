"""Prefect drives DVC: every flow task is `dvc repro --single-item <stage>`, run in its own process.

DVC then decides what reruns (code, params and upstream outputs against dvc.lock), runs the
stage as dvc.yaml's `cmd`, hashes the outputs and writes dvc.lock, under its own repo lock. A
flow for some targets runs each stage `dvc repro <targets>` would reach, upstream first, so a
stale upstream stage reruns before the target, as with `dvc repro`. One flow at a time: a
second one fails at once with one line (`flow_lock`) instead of interleaving its stages.
"""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.env import project_root
from pipeline.stages import STAGES
from pipeline.errors import ConfigError, PipelineError

# DVC's messages for a stage it reproduces and for one it leaves as it is (dvc/stage/run.py).
RAN = "Running stage '{}'"
UNCHANGED = "Stage '{}' didn't change, skipping"


class StageFailed(PipelineError):
    """`dvc repro` exited non-zero; the message is the stage and DVC's last error line."""


@dataclass(frozen=True)
class StagePlan:
    name: str
    outs: tuple[str, ...]   # cached outputs, relative to the repo, as dvc.yaml resolves them
    deps: tuple[str, ...]


def is_dvc_project(root: Path | None = None) -> bool:
    root = root or project_root()
    return (root / ".dvc").is_dir() and (root / "dvc.yaml").exists()


def plan(targets: list[str], root: Path | None = None) -> list[StagePlan]:
    """The stages `dvc repro <targets>` would consider, in an order where each comes after the
    stages it depends on (DVC's own graph)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(root or project_root())) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        by_name = {stage.name: stage for stage in graph if getattr(stage, "name", None)}
        unknown = sorted(set(targets) - set(by_name))
        if unknown:
            raise ConfigError(f"{unknown[0]}: not a stage of dvc.yaml (stages: {', '.join(by_name)})")
        wanted = set()
        for name in targets:
            wanted |= {by_name[name], *nx.descendants(graph, by_name[name])}
        # dependencies first; among independent stages, pipeline.stages' order (the README's)
        rank = {name: i for i, name in enumerate(STAGES)}
        order = nx.lexicographical_topological_sort(graph.subgraph(wanted).reverse(),
                                                    key=lambda stage: (rank.get(stage.name, len(rank)), stage.name))
        # outs: the cached ones (data artifacts); metrics and plots files are `cache: false`
        return [StagePlan(stage.name, tuple(str(o.def_path) for o in stage.outs if o.use_cache),
                          tuple(str(d.def_path) for d in stage.deps)) for stage in order]


def locked_outs(stage: str, root: Path | None = None) -> dict[str, str]:
    """{out path: its DVC hash} as dvc.lock records them for `stage` (empty before a first run)."""
    path = (root or project_root()) / "dvc.lock"
    lock = yaml.safe_load(path.read_text()) if path.exists() else {}
    outs = (lock or {}).get("stages", {}).get(stage, {}).get("outs", [])
    return {o["path"]: o.get("md5") or o.get("hash", "") for o in outs}


def repro(stage: str, log, root: Path | None = None) -> bool:
    """`dvc repro --single-item stage`, its output line by line to `log`; True when DVC ran the
    stage, False when it was up to date. Raises StageFailed with DVC's error line."""
    root = root or project_root()
    env = dict(os.environ)
    # The stage `cmd` (`python -m pipeline ...`) must find this interpreter's environment.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("LMPIPE_ROOT", None)  # the stage runs from the repo root, as under `dvc repro`
    cmd = [sys.executable, "-m", "dvc", "repro", "--single-item", stage]
    ran, tail = None, []
    with subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as proc:
        for line in proc.stdout:
            line = line.rstrip()
            log(line)
            tail = (tail + [line])[-20:]
            if RAN.format(stage) in line:
                ran = True
            elif UNCHANGED.format(stage) in line and ran is None:
                ran = False
    if proc.returncode != 0:
        # The stage's own last line (the CLI's one-line error) says more than DVC's summary after it.
        first_error = next((i for i, t in enumerate(tail) if t.startswith("ERROR")), len(tail))
        said = [t for t in tail[:first_error] if t.strip()] or tail[first_error:] or ["no output"]
        raise StageFailed(f"{stage}: `dvc repro --single-item {stage}` exited {proc.returncode}: {said[-1].strip()}")
    return bool(ran)


@contextmanager
def flow_lock(root: Path | None = None):
    """Held for a whole flow run. DVC locks the repo per command only, so without it two flows
    could interleave their stages."""
    from filelock import FileLock, Timeout

    path = (root or project_root()) / ".dvc" / "tmp" / "lmpipe-flow.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(f"{path}: another lmpipe flow is running in this repo; "
                          "wait for it to finish (a flow never runs beside another)") from None
    try:
        yield
    finally:
        lock.release()
