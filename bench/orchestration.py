"""Wall time of the tiny profile through `dvc repro` vs the Prefect flow against a running
local Prefect server, in the same run on the same machine. Goal: prefect / dvc <= 1.15.

Each side starts from a fresh copy of the working tree (nothing cached), so both do the same
work: every stage of the tiny profile. Prints a table and writes bench/results/orchestration.json.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import make_project_copy, project_env, shared_data_dir, sh  # noqa: E402
from flows.server import wait_healthy  # noqa: E402
from test_prefect_server import free_port  # noqa: E402

FLOW = "from flows.lmpipe_flow import lmpipe; lmpipe()"


def timed(cmd: list[str], root: Path, env: dict) -> float:
    start = time.perf_counter()
    sh(cmd, root, timeout=1800, env=env)
    return time.perf_counter() - start


def main() -> None:
    data = shared_data_dir()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        server_env = {**project_env(tmp), "PREFECT_HOME": str(tmp / "server"), "PREFECT_UI_ENABLED": "false"}
        server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                   "--port", str(port)], env=server_env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            assert wait_healthy(api, 120), "prefect server did not start"
            dvc_root = make_project_copy(tmp / "dvc", data)
            prefect_root = make_project_copy(tmp / "prefect", data)
            dvc_s = timed(["dvc", "repro"], dvc_root, project_env(dvc_root))
            prefect_s = timed(["python", "-c", FLOW], prefect_root,
                              {**project_env(prefect_root), "PREFECT_API_URL": api})
        finally:
            server.terminate()
            server.wait(timeout=60)
    result = {"profile": "tiny", "dvc_repro_s": round(dvc_s, 1), "prefect_flow_s": round(prefect_s, 1),
              "ratio_prefect_over_dvc": round(prefect_s / dvc_s, 3), "goal": "<= 1.15"}
    print(f"{'runner':<28}{'wall (s)':>10}")
    print(f"{'dvc repro':<28}{dvc_s:>10.1f}")
    print(f"{'prefect flow (server)':<28}{prefect_s:>10.1f}")
    print(f"ratio prefect/dvc: {result['ratio_prefect_over_dvc']:.3f} (goal <= 1.15)")
    out = REPO / "bench" / "results" / "orchestration.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
