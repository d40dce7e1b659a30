"""pretrain as separate processes: torchrun DDP against one process, and kill -9 then resume."""
from __future__ import annotations

import json
import signal
import sys
import time

import numpy as np
import pytest

from pretrain_helpers import cli, read_tsv, token_paths, tokenize

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory, shared_data):
    return tokenize(tmp_path_factory.mktemp("tok"), shared_data)


def sets(tokenized, *extra: str) -> list[str]:
    return [a for s in ("profile=tiny", *token_paths(tokenized), *extra) for a in ("--set", s)]


def finish(proc, timeout=300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def losses(root) -> np.ndarray:
    return np.array([row[1] for row in read_tsv(root / "plots" / "pretrain_loss.tsv")])


@pytest.mark.slow
def test_two_processes_follow_one(tokenized, tmp_path):
    """2 gloo processes with 4 sequences each vs 1 process with 8: the same examples, the loss
    normalized by the whole step's targets, so only float summation order differs.
    Tolerance: 1e-4 absolute on every step's loss (observed ~1e-6 in fp32)."""
    one, two = tmp_path / "one", tmp_path / "two"
    for d in (one, two):
        d.mkdir()
    extra = ("pretrain.max_steps=30", "pretrain.grad_accum=2")  # also covers accumulation + no_sync
    finish(cli(one, ["pretrain", *sets(tokenized, *extra)]))
    out = finish(cli(two, ["pretrain", *sets(tokenized, *extra)], launcher=TORCHRUN))
    assert "2 process(es)" in out
    a, b = losses(one), losses(two)
    assert len(a) == len(b) == 30
    assert np.abs(a - b).max() < 1e-4, np.abs(a - b).max()
    assert json.loads((two / "metrics" / "pretrain.json").read_text())["processes"] == 2


@pytest.mark.slow
def test_batch_not_divisible_across_processes(tokenized, tmp_path):
    proc = cli(tmp_path, ["pretrain", *sets(tokenized, "pretrain.batch_size=7")], launcher=TORCHRUN)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert "lmpipe pretrain: error: pretrain.batch_size: 7 does not divide across 2 processes x 1 accumulation steps" in out


@pytest.mark.slow
def test_kill_9_then_resume_matches_uninterrupted(tokenized, tmp_path):
    """Checkpoints hold model, optimizer, scheduler, RNG states and data position, so the resumed
    run recomputes the remaining steps exactly. Tolerance: 1e-6 absolute on the final loss and on
    every step after the resume point (CPU runs are deterministic; observed difference 0)."""
    extra = ("pretrain.max_steps=200", "pretrain.checkpoint_every=20", "pretrain.eval_every=50")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for d in (whole, killed):
        d.mkdir()
    finish(cli(whole, ["pretrain", *sets(tokenized, *extra)]))

    proc = cli(killed, ["pretrain", *sets(tokenized, *extra)])
    ckpts = killed / "data" / "model.partial" / "checkpoints"
    deadline = time.time() + 240
    while not (ckpts / "step_0000040.pt").exists():
        assert proc.poll() is None and time.time() < deadline, "run ended before it could be killed"
        time.sleep(0.01)
    assert proc.poll() is None, "run finished before the kill: make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "data" / "model").exists()

    finish(cli(killed, ["pretrain", *sets(tokenized, *extra)]))
    metrics = json.loads((killed / "metrics" / "pretrain.json").read_text())
    assert 40 <= metrics["resumed_from_step"] < 200
    a, b = losses(whole), losses(killed)
    assert len(a) == len(b) == 200
    assert abs(a[-1] - b[-1]) < 1e-6
    assert np.abs(a - b).max() < 1e-6
    full = json.loads((whole / "metrics" / "pretrain.json").read_text())
    assert abs(full["val_loss"] - metrics["val_loss"]) < 1e-6
