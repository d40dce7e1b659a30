"""Source URIs from params.yaml to local files.

A URI is a local path or glob (relative ones resolve against the data root, LMPIPE_DATA or
params' data_root) or an http(s) URL, downloaded once into data/downloads/ with resume (HTTP
Range) and, when a sha256 is given, checksum verification.
"""
from __future__ import annotations

import glob
import hashlib
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from pipeline.config import resolve_path
from pipeline.errors import InputError

log = logging.getLogger(__name__)
DOWNLOAD_DIR = "data/downloads"
CHUNK = 1 << 20


def is_url(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def data_root_path(data_root: str) -> Path:
    return resolve_path(os.path.expanduser(data_root))


def resolve_local(uri: str, data_root: str) -> list[Path]:
    """Expand a path or glob; an empty match is an error naming the pattern."""
    pattern = Path(os.path.expanduser(uri))
    if not pattern.is_absolute():
        pattern = data_root_path(data_root) / pattern
    matches = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
    files = [p for p in matches if p.is_file()]
    if not files:
        what = "no file matches" if glob.has_magic(str(pattern)) else "file not found"
        raise InputError(f"{pattern}: {what}")
    return files


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest_dir: str | Path = DOWNLOAD_DIR, sha256: str | None = None,
             retries: int = 3, timeout: float = 60.0) -> Path:
    """Download `url` into dest_dir, resuming a previous partial download.

    The file is written as `<name>.part` and renamed once complete and verified, so a killed
    download is resumed, never mistaken for a finished one.
    """
    dest_dir = resolve_path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    name = Path(urllib.parse.urlparse(url).path).name or "download"
    dest = dest_dir / name
    if dest.exists() and (sha256 is None or sha256_file(dest) == sha256):
        return dest
    part = dest.with_name(dest.name + ".part")
    for attempt in range(1, retries + 1):
        try:
            _fetch_into(url, part, timeout)
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if attempt == retries:
                raise InputError(f"{url}: download failed after {retries} attempts: {exc}") from None
            wait = 2 ** attempt
            log.warning("%s: %s; retrying in %ss", url, exc, wait)
            time.sleep(wait)
    if sha256 is not None:
        got = sha256_file(part)
        if got != sha256:
            part.unlink()
            raise InputError(f"{url}: checksum mismatch (expected sha256 {sha256}, got {got})")
    os.replace(part, dest)
    return dest


def _fetch_into(url: str, part: Path, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # asked past the end: the part file is already complete
            return
        raise InputError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    with response:
        resumed = response.status == 206
        mode = "ab" if resumed else "wb"  # a server ignoring Range sends the whole file again
        length = response.headers.get("Content-Length")
        expected = (have if resumed else 0) + int(length) if length and length.isdigit() else None
        with open(part, mode) as fh:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                fh.write(chunk)
    # http.client ends a body cut short by the server quietly: only the length tells
    got = part.stat().st_size
    if expected is not None and got < expected:
        raise ConnectionError(f"connection closed after {got} of {expected} bytes")


def resolve(uri: str, data_root: str, sha256: str | None = None) -> list[Path]:
    if is_url(uri):
        return [download(uri, sha256=sha256)]
    return resolve_local(uri, data_root)
