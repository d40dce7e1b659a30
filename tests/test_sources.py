"""Source resolution: local globs, and http(s) downloads (resume with Range, sha256) against a
local http.server."""
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.errors import InputError
from pipeline.sources import DOWNLOAD_DIR, download, resolve

BODY = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(BODY).hexdigest()


class Server:
    """Serves BODY at /data.bin; honours `Range: bytes=N-` unless told not to; can drop the
    connection after `cut` bytes of the first response, as a flaky network does."""

    def __init__(self):
        self.ranges: list[str | None] = []
        self.honour_range = True
        self.cut: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/data.bin":
                    self.send_error(404)
                    return
                requested = self.headers.get("Range")
                server.ranges.append(requested)
                start = int(requested[6:-1]) if requested and server.honour_range else 0
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
                self.send_header("Content-Length", str(len(BODY) - start))
                self.end_headers()
                body = BODY[start:]
                if server.cut is not None:
                    body, server.cut = body[:server.cut], None
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/data.bin"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_download_verifies_checksum_and_is_not_repeated(project, server):
    path = download(server.url, sha256=SHA)
    assert path == project / DOWNLOAD_DIR / "data.bin" and path.read_bytes() == BODY
    assert resolve(server.url, "unused", sha256=SHA) == [path]
    assert server.ranges == [None]  # the second call found the verified file


def test_download_resumes_a_partial_file_with_range(project, server):
    part = project / DOWNLOAD_DIR / "data.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(BODY[:300_000])  # left by a killed run
    path = download(server.url, sha256=SHA)
    assert server.ranges == ["bytes=300000-"]
    assert path.read_bytes() == BODY and not part.exists()


def test_server_ignoring_range_restarts_the_file(project, server):
    server.honour_range = False
    part = project / DOWNLOAD_DIR / "data.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 1000)
    assert download(server.url, sha256=SHA).read_bytes() == BODY


def test_dropped_connection_is_resumed_not_kept_as_complete(project, server):
    server.cut = 400_000
    path = download(server.url)  # no checksum: only the length tells it is short
    assert server.ranges == [None, "bytes=400000-"]
    assert path.read_bytes() == BODY


def test_checksum_mismatch_is_an_error_and_leaves_no_file(project, server):
    with pytest.raises(InputError, match="checksum mismatch"):
        download(server.url, sha256="0" * 64)
    assert not list((project / DOWNLOAD_DIR).iterdir())


def test_http_error_is_one_line(project, server):
    with pytest.raises(InputError, match="HTTP 404"):
        download(server.url.replace("data.bin", "missing.bin"))


def test_local_glob_matching_nothing(tmp_path):
    with pytest.raises(InputError, match="no file matches"):
        resolve("nothing/*.warc.gz", str(tmp_path))
