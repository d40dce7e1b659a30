"""A local stand-in for the Hugging Face hub: the few endpoints `datasets.load_dataset(<name>)`
calls for a repo of parquet files (huggingface_hub 2.4, datasets 5.2), served over real HTTP, so
the `hub:` loader's download code runs as it does online, with HF_ENDPOINT pointing here.

    GET  /api/datasets/<repo>[/revision/<rev>]     the repo's info: its commit sha and files
    GET  /api/datasets/<repo>/tree/<rev>[/<dir>]   a folder's listing (recursive=true: all of it)
    POST /api/datasets/<repo>/paths-info/<rev>     the entries of the paths asked for
    HEAD/GET /datasets/<repo>/resolve/<rev>/<path> a file, with the commit and ETag headers

Anything else is a 404 with the hub's error-code header, as an unknown repo or file is there.
"""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class LocalHub:
    def __init__(self, repos: dict[str, dict[str, bytes]]):
        """`repos` maps a dataset repo id ('org/name') to its files, path -> content."""
        self.repos = repos
        self.requests: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "LocalHub":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # the test reads hub.requests instead
                pass

            def do_GET(self):
                hub.requests.append(f"{self.command} {self.path}")
                status, body, headers = hub.answer(self.command, self.path, self._body())
                self.send_response(status)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _body(self) -> str:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()

            do_HEAD = do_POST = do_GET

        return Handler

    def answer(self, method: str, url: str, body: str) -> tuple[int, bytes, dict]:
        parsed = urlparse(url)
        path = unquote(parsed.path)
        for repo, files in self.repos.items():
            api = f"/api/datasets/{repo}"
            if path in (api, f"{api}/revision/main", f"{api}/revision/{COMMIT}"):
                return _json({"id": repo, "sha": COMMIT, "private": False, "disabled": False, "gated": False,
                              "siblings": [{"rfilename": name} for name in files], "tags": [], "cardData": {},
                              "lastModified": "2026-12-01T00:00:00.000Z"})
            if path.startswith(f"{api}/tree/"):
                folder = path[len(f"{api}/tree/"):].partition("/")[2].strip("/")
                recursive = parse_qs(parsed.query).get("recursive", ["false"])[0].lower() in ("true", "1")
                return _json(_listing(files, folder, recursive))
            if path.startswith(f"{api}/paths-info/") and method == "POST":
                asked = parse_qs(body).get("paths") or json.loads(body or "{}").get("paths", [])
                return _json([_entry(name, files[name]) for name in asked if name in files])
            resolve = f"/datasets/{repo}/resolve/"
            if path.startswith(resolve):
                name = path[len(resolve):].partition("/")[2]
                if name in files:
                    return 200, files[name], {"Content-Type": "application/octet-stream", "X-Repo-Commit": COMMIT,
                                              "ETag": f'"{hashlib.sha1(files[name]).hexdigest()}"'}
        return 404, b'{"error": "not found"}', {"Content-Type": "application/json",
                                                 "X-Error-Code": "RepoNotFound" if "/api/" in path else "EntryNotFound",
                                                 "X-Error-Message": "Repository not found"}


def _json(payload) -> tuple[int, bytes, dict]:
    return 200, json.dumps(payload).encode(), {"Content-Type": "application/json"}


def _entry(name: str, content: bytes) -> dict:
    return {"type": "file", "path": name, "size": len(content), "oid": hashlib.sha1(content).hexdigest()}


def _listing(files: dict[str, bytes], folder: str, recursive: bool) -> list[dict]:
    prefix = f"{folder}/" if folder else ""
    entries, folders = [], []
    for name, content in files.items():
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        if "/" in rest and not recursive:
            sub = prefix + rest.split("/")[0]
            if sub not in folders:
                folders.append(sub)
                entries.append({"type": "directory", "path": sub, "oid": "0" * 40, "size": 0})
        else:
            entries.append(_entry(name, content))
    return entries
