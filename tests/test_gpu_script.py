"""bench/gpu.sh runs end to end: on this CPU (ALLOW_CPU=1), over the tiny project's tokens, with the
model shrunk and compile off; on a GPU host it is the same script with nothing shrunk."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_gpu_script_prints_its_table_and_writes_json(tiny_repro, tmp_path, shared_data):
    out = tmp_path / "gpu.json"
    shrink = ("pretrain.arch.hidden_size=32 pretrain.arch.layers=2 pretrain.arch.heads=2 pretrain.batch_size=16 "
              "pretrain.seq_len=64 pretrain.compile=false pretrain.loader_workers=1 pretrain.threads=1")
    env = {**os.environ, "ALLOW_CPU": "1", "STEPS": "6", "FT_EXAMPLES": "64", "DATA_FROM": str(tiny_repro / "data"),
           "GPU_SH_SET": shrink, "OUT_JSON": str(out), "PYTHON": sys.executable, "LMPIPE_DATA": str(shared_data)}
    def repo_state():  # the script works in a scratch root: the repo's metrics and plots stay as they are
        return subprocess.run(["git", "status", "--porcelain", "metrics", "plots", "data"], cwd=REPO,
                              capture_output=True, text=True).stdout
    before = repo_state()
    proc = subprocess.run(["bash", str(REPO / "bench" / "gpu.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["row"] for r in result["pretrain"]] == ["compiled", "eager"]  # one CPU: no DDP row
    for row in result["pretrain"]:
        assert row["steps"] == 6 and row["tokens_per_s"] > 0 and row["gpu_peak_memory_gib"] is None
    assert 0 <= result["finetune"]["sst2_dev_accuracy"] <= 100
    table = proc.stdout[proc.stdout.index("tok/s"):]
    assert "compiled" in table and "eager" in table and "finetune SST-2" in table
    assert repo_state() == before


def test_gpu_script_refuses_to_run_without_a_gpu(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "ALLOW_CPU": "0"}
    proc = subprocess.run(["bash", str(REPO / "bench" / "gpu.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "bench/gpu.sh: no CUDA device visible to torch; run it on a GPU host"
