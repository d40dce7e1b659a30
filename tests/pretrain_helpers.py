"""Shared set-up for the tokenizer and pretrain tests: a scratch project on real text."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PARAMS = str(REPO / "params.yaml")
LEADS = "wikipedia/leads/en-leads.parquet"


def make_corpus(root: Path, shared_data: Path) -> Path:
    """root/data/curated/docs/ holding the English Wikipedia leads (the curated-corpus layout)."""
    docs = root / "data" / "curated" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    link = docs / "en-leads.parquet"
    if not link.exists():
        link.symlink_to(shared_data / LEADS)
    return docs


def read_tsv(path: Path) -> list[list[float]]:
    lines = path.read_text().splitlines()[1:]
    return [[float(x) for x in line.split("\t")] for line in lines]


def cli(root: Path, args: list[str], launcher: list[str] | None = None, **kw) -> subprocess.Popen:
    """`python -m pipeline <args>` (or under `launcher`, e.g. torchrun) with root as the project."""
    env = {**os.environ, "LMPIPE_ROOT": str(root), "OMP_NUM_THREADS": "1"}
    cmd = (launcher or [sys.executable]) + ["-m", "pipeline", *args, "--params", PARAMS]
    return subprocess.Popen(cmd, env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kw)


def tokenize(root: Path, shared_data: Path, *sets: str) -> Path:
    """Run the tiny tokenizer stage into root; returns root."""
    from pipeline.runner import run_stage

    make_corpus(root, shared_data)
    old = os.environ.get("LMPIPE_ROOT")
    os.environ["LMPIPE_ROOT"] = str(root)
    try:
        run_stage("tokenizer", ["profile=tiny", "tokenizer.train_max_chars=300000", *sets], PARAMS)
    finally:
        os.environ.pop("LMPIPE_ROOT") if old is None else os.environ.__setitem__("LMPIPE_ROOT", old)
    return root


def token_paths(root: Path) -> list[str]:
    """--set overrides pointing a project at another root's tokenizer outputs."""
    return [f"paths.tokenizer={root / 'data' / 'tokenizer'}", f"paths.tokens={root / 'data' / 'tokens'}"]
