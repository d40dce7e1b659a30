"""`lmpipe plots`: the plots declared in dvc.yaml, rendered offline to HTML and PNG.

`dvc plots show` writes HTML that loads vega from a CDN, which fails with no network. Here DVC
still fills its templates (`dvc plots show --json`), and vl-convert renders each Vega-Lite spec
with its bundled engine: PNG directly, and HTML with the JavaScript inlined.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import vl_convert as vlc

from pipeline.config import resolve_path
from pipeline.env import project_root
from pipeline.errors import InputError


def dvc_plot_specs() -> dict[str, dict]:
    """{plot file: filled Vega-Lite spec} for the workspace revision."""
    proc = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "--json"], cwd=project_root(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise InputError(f"dvc plots show failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1]}")
    data = json.loads(proc.stdout).get("data", {})
    specs = {}
    for name, entries in data.items():
        for entry in entries:
            if entry.get("type") == "vega" and entry["content"].get("data", {}).get("values"):
                specs[name] = entry["content"]
    if not specs:
        raise InputError("dvc.yaml plots: no plot has data yet; run the pipeline first")
    return specs


def render_all(out_dir: str | Path = "data/plots") -> list[Path]:
    out = resolve_path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, spec in dvc_plot_specs().items():
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem)
        png = out / f"{stem}.png"
        png.write_bytes(vlc.vegalite_to_png(spec, scale=2))
        html = out / f"{stem}.html"
        html.write_text(vlc.vegalite_to_html(spec, bundle=True))
        written += [html, png]
    return written
