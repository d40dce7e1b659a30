"""fetch: make sure the data the run reads is there, and where it is not, download a public copy.

`fetch.files` lists every file under data_root that the default run reads, with its sha256 and
where a public copy lives. With the data folder present (../shared/data, or LMPIPE_DATA) the
stage checks each file and writes a manifest. With the `public` profile, data_root is this
stage's output folder: a missing file is downloaded there (LMPIPE_ONLINE=1; resumable, verified),
so the same `dvc repro` runs on a machine without ../shared. Anything missing ends the run with
one line that names it and both ways to provide it.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.artifacts import write_json
from pipeline.config import resolve_path
from pipeline.env import network_configured
from pipeline.errors import InputError
from pipeline.sources import download, sha256_file

log = logging.getLogger(__name__)


@dataclass
class PublicFile:
    path: str          # under data_root
    sha256: str
    url: str = ""      # a public original; empty: fetch.base_url + the file's path
    member: str = ""   # the file inside the zip at `url` (GLUE publishes one zip per task)


@dataclass
class Config:
    data_root: str = "../shared/data"
    public_data: str = "data/downloads/public"   # this stage's output; the public profile's data_root
    base_url: str = ""  # a mirror laid out like ../shared/data, for files with no public original
    # A list, not a mapping by path: DVC's lock file writer breaks long keys with spaces over lines.
    files: list[PublicFile] = field(default_factory=list)


def how_to_provide(root: Path, missing: list[str]) -> str:
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return (f"{root}: input data missing ({missing[0]}{more}); put the data folder there (or set "
            f"LMPIPE_DATA), or download public copies: `profile: public` in params.yaml and LMPIPE_ONLINE=1")


def url_of(spec: PublicFile, base_url: str) -> str:
    if spec.url:
        return spec.url
    if not base_url:
        raise InputError(f"{spec.path}: no public copy known; set fetch.base_url to a mirror of the sample data")
    return f"{base_url.rstrip('/')}/{urllib.parse.quote(spec.path)}"  # book titles have spaces


def download_to(spec: PublicFile, base_url: str, target: Path, staging: Path) -> None:
    """Download one file to `target`, verified; a zip member is extracted from its zip. Files are
    moved into place only once complete, so a killed run leaves nothing that looks finished."""
    url = url_of(spec, base_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not spec.member:
        shutil.move(download(url, staging, sha256=spec.sha256), target)
        return
    archive = download(url, staging)  # the zip's own checksum is not published: the member's is checked
    try:
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(spec.member)
    except (zipfile.BadZipFile, KeyError) as exc:
        archive.unlink()  # a wrong or damaged download: fetched again next time
        raise InputError(f"{url}: cannot extract {spec.member} ({exc})") from None
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(data)
    if sha256_file(Path(tmp.name)) != spec.sha256:
        Path(tmp.name).unlink()
        raise InputError(f"{url}: {spec.member} has an unexpected sha256")
    Path(tmp.name).replace(target)


def run(cfg: Config) -> dict:
    root = resolve_path(cfg.data_root)
    out = resolve_path(cfg.public_data)
    downloading = root == out  # the public profile: data_root is this stage's own folder
    out.mkdir(parents=True, exist_ok=True)
    missing, bad, fetched = [], [], 0
    for spec in cfg.files:
        path = root / spec.path
        if path.exists() and sha256_file(path) == spec.sha256:
            continue
        if path.exists() and not downloading:
            bad.append(spec.path)  # a local copy that differs: the user's data, kept, reported
            continue
        if downloading and network_configured():
            download_to(spec, cfg.base_url, path, out / ".partial")
            fetched += 1
        else:
            missing.append(spec.path)
    if missing:
        raise InputError(how_to_provide(root, missing))
    shutil.rmtree(out / ".partial", ignore_errors=True)
    for rel in bad:
        log.warning("%s: sha256 differs from fetch.files (a local copy of another version)", root / rel)
    manifest = {"data_root": str(cfg.data_root),
                "files": {s.path: s.sha256 for s in sorted(cfg.files, key=lambda s: s.path) if s.path not in bad},
                "differ": bad}
    write_json(out / "manifest.json", manifest)
    return {"files": len(cfg.files), "downloaded": fetched, "differ": len(bad)}
