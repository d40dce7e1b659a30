"""fetch: the inputs are checked, and without ../shared the public copies are downloaded from a
local HTTP server that serves ../shared's files under the public URLs' paths."""
import hashlib
import io
import json
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from conftest import REPO, make_project_copy, project_env, sh
from pipeline.errors import InputError
from pipeline.fetch import Config, PublicFile, run


class Mirror:
    """Serves `routes` (URL path -> bytes) on 127.0.0.1; counts the requests per path."""

    def __init__(self, routes: dict[str, bytes]):
        self.routes, self.hits = routes, {}
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = mirror.routes.get(self.path)
                mirror.hits[self.path] = mirror.hits.get(self.path, 0) + 1
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def mirror():
    m = Mirror({"/orig/a.txt": b"alpha\n", "/glue/T.zip": zipped({"T/dev.tsv": b"x\ty\n"}),
                "/mirror/leads/b.parquet": b"beta"})
    yield m
    m.close()


def files(base: str) -> list[PublicFile]:
    return [PublicFile("wiki/a.txt", sha(b"alpha\n"), url=f"{base}/orig/a.txt"),
            PublicFile("glue/T/dev.tsv", sha(b"x\ty\n"), url=f"{base}/glue/T.zip", member="T/dev.tsv"),
            PublicFile("leads/b.parquet", sha(b"beta"))]


def test_present_inputs_are_checked_and_listed(project):
    root = project / "shared"
    for rel, data in {"wiki/a.txt": b"alpha\n", "glue/T/dev.tsv": b"x\ty\n", "leads/b.parquet": b"beta"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    metrics = run(Config(data_root=str(root), files=files("http://unused")))
    assert metrics == {"files": 3, "downloaded": 0, "differ": 0}
    manifest = json.loads((project / "data/downloads/public/manifest.json").read_text())
    assert manifest["files"]["wiki/a.txt"] == sha(b"alpha\n")
    (root / "wiki/a.txt").write_bytes(b"another version\n")  # the user's data: kept, reported
    assert run(Config(data_root=str(root), files=files("http://unused")))["differ"] == 1
    assert (root / "wiki/a.txt").read_bytes() == b"another version\n"


def test_missing_data_folder_offline_is_one_line_with_both_ways(project, monkeypatch):
    monkeypatch.delenv("LMPIPE_ONLINE", raising=False)
    with pytest.raises(InputError) as err:
        run(Config(data_root=str(project / "nowhere"), files=files("http://unused")))
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{project / 'nowhere'}: input data missing (wiki/a.txt and 2 more)")
    assert "LMPIPE_DATA" in message and "profile: public" in message and "LMPIPE_ONLINE=1" in message


def test_public_profile_downloads_verifies_and_unzips(project, mirror, monkeypatch):
    monkeypatch.setenv("LMPIPE_ONLINE", "1")
    cfg = Config(data_root="data/downloads/public", base_url=f"{mirror.base}/mirror", files=files(mirror.base))
    assert run(cfg)["downloaded"] == 3
    out = project / "data/downloads/public"
    assert (out / "glue/T/dev.tsv").read_bytes() == b"x\ty\n" and (out / "leads/b.parquet").read_bytes() == b"beta"
    assert not (out / ".partial").exists()
    assert run(cfg)["downloaded"] == 0 and sum(mirror.hits.values()) == 3  # verified copies are kept


def test_public_download_with_wrong_checksum_leaves_nothing(project, mirror, monkeypatch):
    monkeypatch.setenv("LMPIPE_ONLINE", "1")
    bad = [PublicFile("wiki/a.txt", "0" * 64, url=f"{mirror.base}/orig/a.txt")]
    with pytest.raises(InputError, match="checksum mismatch"):
        run(Config(data_root="data/downloads/public", files=bad))
    assert not (project / "data/downloads/public/wiki/a.txt").exists()
    assert not (project / "data/downloads/public/manifest.json").exists()


def test_public_file_without_any_url_names_the_key(project, monkeypatch):
    monkeypatch.setenv("LMPIPE_ONLINE", "1")
    with pytest.raises(InputError, match=r"^leads/b.parquet: no public copy known; set fetch.base_url"):
        run(Config(data_root="data/downloads/public", files=[PublicFile("leads/b.parquet", sha(b"beta"))]))


@pytest.mark.slow
def test_public_profile_dvc_repro_matches_the_shared_data_run(tmp_path, shared_data):
    """`LMPIPE_ONLINE=1 dvc repro ingest` on the public profile, every URL answered by a local
    server from ../shared, ingests the same documents as the run on ../shared itself."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    routes, rewrite = {}, {}
    for spec in params["fetch"]["files"]:
        rel = spec["path"]
        url = urllib.parse.urlparse(spec.get("url") or f"https://mirror.example/{urllib.parse.quote(rel)}")
        path = f"/{url.netloc}{url.path}"
        if spec.get("member"):  # GLUE's zips, rebuilt from ../shared's TSVs
            members = {s["member"]: (shared_data / s["path"]).read_bytes() for s in params["fetch"]["files"]
                       if s.get("url") == spec["url"]}
            routes[path] = zipped(members)
        else:
            routes[path] = (shared_data / rel).read_bytes()
        rewrite[f"{url.scheme}://{url.netloc}/"] = None
    server = Mirror(routes)
    try:
        public = make_project_copy(tmp_path / "public", shared_data, profile="public")
        text = (public / "params.yaml").read_text()
        for prefix in rewrite:
            text = text.replace(prefix, f"{server.base}/{prefix.split('://')[1]}")
        text = text.replace('base_url: ""', f"base_url: {server.base}/mirror.example")
        (public / "params.yaml").write_text(text)
        env = {**project_env(public), "LMPIPE_ONLINE": "1"}
        sh(["dvc", "repro", "ingest"], public, env=env)
        fetched = json.loads((public / "metrics/fetch.json").read_text())
        assert fetched["downloaded"] == len(params["fetch"]["files"]) and fetched["differ"] == 0
        assert "up to date" in sh(["dvc", "status", "ingest"], public, env=env).stdout
    finally:
        server.close()
    local = make_project_copy(tmp_path / "local", shared_data, profile="default")
    sh(["dvc", "repro", "ingest"], local)
    ingested = [json.loads((root / "metrics/ingest.json").read_text()) for root in (public, local)]
    assert ingested[0]["docs"] == ingested[1]["docs"] > 10_000
    assert {k: v["kept"] for k, v in ingested[0]["sources"].items()} == \
        {k: v["kept"] for k, v in ingested[1]["sources"].items()}


def test_zip_without_the_member_is_one_line(project, mirror, monkeypatch):
    monkeypatch.setenv("LMPIPE_ONLINE", "1")
    spec = [PublicFile("glue/T/train.tsv", sha(b"x"), url=f"{mirror.base}/glue/T.zip", member="T/train.tsv")]
    with pytest.raises(InputError, match=r"T\.zip: cannot extract T/train\.tsv") as err:
        run(Config(data_root="data/downloads/public", files=spec))
    assert "\n" not in str(err.value)
    assert not [p for p in (project / "data/downloads/public").rglob("*") if p.is_file()]  # nothing half-made
