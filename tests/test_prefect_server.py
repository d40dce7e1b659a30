"""Against a real local Prefect server: deployments registered by `python -m flows.server`,
a run of the tiny profile triggered with `prefect deployment run`, its artifacts and asset
materialisations read back, and its outputs compared by hash with a `dvc repro` run's."""
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


# The one cached output that quotes wall times (the report card's cost section): its hash
# differs between any two runs, `dvc repro`'s included. The metrics and plots holding times are
# `cache: false` and not outputs of plan().
TIMED = {"data/report_card"}


def cached_out_hashes(root) -> dict[str, str]:
    """{output: hash} of every cached output in root's dvc.lock but the TIMED ones."""
    from flows.dvc_repro import locked_outs, plan

    steps = plan(list(STAGES), root)
    return {out: locked_outs(step.name, root)[out] for step in steps for out in step.outs if out not in TIMED}


def materialisations(env, root) -> dict[str, dict]:
    """{asset key: {"payload", "upstream"}} of the server's asset materialisation events."""
    # The server caps a page at 50 events (422 above that), so read page by page; pages are
    # newest first, so the first event seen for a key is its latest materialisation.
    code = ("from prefect.client.orchestration import get_client\n"
            "from prefect.events.filters import EventFilter, EventNameFilter\n"
            "import json\n"
            "f = EventFilter(event=EventNameFilter(name=['prefect.asset.materialization.succeeded']))\n"
            "seen = {}\n"
            "with get_client(sync_client=True) as c:\n"
            "    page = c.read_events(filter=f, limit=50)\n"
            "    while True:\n"
            "        for e in page.events:\n"
            "            seen.setdefault(e.resource.id, {'payload': e.payload,"
            " 'upstream': sorted(r.id for r in e.related if r.role == 'asset')})\n"
            "        if not page.next_page:\n"
            "            break\n"
            "        page = c.read_events_page(page.next_page)\n"
            "print(json.dumps(seen))")
    return json.loads(sh(["python", "-c", code], root, env=env).stdout.strip().splitlines()[-1])


def test_deployment_run_on_a_real_server(tmp_path, shared_data, prefect_server, tiny_repro):
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
    # The Prefect run left the repository as `dvc repro` would, by content: every cached output,
    # model stages included (one CPU), hashes as in the `dvc repro` run of another clone.
    assert "up to date" in sh(["dvc", "status"], root).stdout
    flow_hashes, repro_hashes = cached_out_hashes(root), cached_out_hashes(tiny_repro)
    assert len(flow_hashes) >= len(STAGES)
    assert {k: v for k, v in flow_hashes.items() if repro_hashes.get(k) != v} == {}, repro_hashes
    # Lineage in the UI: each output an asset, with its DVC hash and the upstream outputs it read.
    assets = materialisations(env, root)
    model = assets[(root / "data" / "model").resolve().as_uri()]
    assert model["payload"]["dvc_hash"] == flow_hashes["data/model"]
    assert model["payload"]["stage"] == "pretrain" and model["payload"]["val_loss"] > 0
    assert model["upstream"] == sorted((root / p).resolve().as_uri() for p in ("data/tokenizer", "data/tokens"))


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
