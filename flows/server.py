"""`python -m flows.server`: a local Prefect server (SQLite, 127.0.0.1) plus the process that
runs lmpipe's deployments, in one command. Ctrl-C stops both.

With `--no-server`, only the deployments are served, against PREFECT_API_URL (a server started
elsewhere); a server that does not answer is reported in one line.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pipeline  # noqa: F401  (offline env and project-local PREFECT_HOME before prefect loads)
from pipeline.errors import PipelineError

DEFAULT_PORT = 4200


def wait_healthy(api_url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    return False


def start_server(port: int) -> subprocess.Popen:
    """`prefect server start` bound to loopback; its SQLite DB lives under PREFECT_HOME."""
    env = {**os.environ, "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port),
           "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "true")}
    return subprocess.Popen([sys.executable, "-m", "prefect", "server", "start",
                             "--host", "127.0.0.1", "--port", str(port)], env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--no-server", action="store_true", help="serve against PREFECT_API_URL")
    parser.add_argument("--profile", default=None, help="profile the deployments run (default: params.yaml's)")
    args = parser.parse_args(argv)

    server = None
    if args.no_server:
        api_url = os.environ.get("PREFECT_API_URL")
        if not api_url:
            print("flows.server: error: --no-server needs PREFECT_API_URL", file=sys.stderr)
            return 2
    else:
        api_url = f"http://127.0.0.1:{args.port}/api"
        server = start_server(args.port)
    if not wait_healthy(api_url, timeout=90 if server else 5):
        print(f"flows.server: error: no Prefect server answering at {api_url}", file=sys.stderr)
        if server:
            server.terminate()
        return 2
    os.environ["PREFECT_API_URL"] = api_url
    try:
        from flows.deployments import serve_all

        serve_all(profile=args.profile)
    except PipelineError as exc:
        print(f"flows.server: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
