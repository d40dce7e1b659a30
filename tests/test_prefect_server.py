"""Against a real local Prefect server: deployments registered by `python -m flows.server`,
a run of the tiny profile triggered with `prefect deployment run`, its artifacts read back."""
import json
import socket
import subprocess
import sys
import time

import pytest

from conftest import make_project_copy, project_env, sh
from pipeline.stages import STAGES

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def prefect_server(tmp_path):
    port = free_port()
    env = project_env(tmp_path)
    env.update(PREFECT_HOME=str(tmp_path / "server-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_UI_ENABLED="false")
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api"
    from flows.server import wait_healthy

    try:
        assert wait_healthy(api, timeout=120), (tmp_path / "server.log").read_text()[-3000:]
        yield api
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def test_deployment_run_on_a_real_server(tmp_path, shared_data, prefect_server):
    root = make_project_copy(tmp_path / "project", shared_data)
    env = {**project_env(root), "PREFECT_API_URL": prefect_server}
    serve_log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen([sys.executable, "-m", "flows.server", "--no-server"], cwd=root, env=env,
                             stdout=serve_log, stderr=subprocess.STDOUT)
    try:
        def registered():
            out = sh(["prefect", "deployment", "ls"], root, env=env, check=False).stdout
            return "lmpipe/nightly" in out
        wait_for(registered, 120, "deployment registration")
        run = sh(["prefect", "deployment", "run", "lmpipe/nightly", "--watch", "--watch-timeout", "800"],
                 root, env=env, timeout=900, check=False)
        assert run.returncode == 0 and "Completed" in run.stdout, run.stdout[-3000:] + (tmp_path / "serve.log").read_text()[-3000:]
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        serve_log.close()
    code = ("from prefect.client.orchestration import get_client\n"
            "import json\n"
            "with get_client(sync_client=True) as c:\n"
            "    print(json.dumps(sorted({a.key for a in c.read_artifacts() if a.key})))")
    keys = json.loads(sh(["python", "-c", code], root, env=env).stdout.strip().splitlines()[-1])
    for stage in STAGES:
        assert f"lmpipe-{stage}" in keys
    assert "lmpipe-glue" in keys
    # The Prefect run left the repository as `dvc repro` would.
    assert "up to date" in sh(["dvc", "status"], root).stdout


def test_server_mode_with_no_server_running_is_one_line(tmp_path):
    env = {**project_env(tmp_path), "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}
    proc = subprocess.run([sys.executable, "-m", "flows.server", "--no-server"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"flows.server: error: no Prefect server answering at {env['PREFECT_API_URL']}"


def test_deployment_with_unknown_profile_is_one_line(tmp_path, prefect_server):
    root = make_project_copy(tmp_path / "project", tmp_path)
    env = {**project_env(root), "PREFECT_API_URL": prefect_server}
    proc = subprocess.run([sys.executable, "-m", "flows.server", "--no-server", "--profile", "huge"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "flows.server: error: profile: unknown profile 'huge' (known: default, ")
