"""The plots declared in dvc.yaml, filled from their data files and rendered offline.

Each plot's Vega-Lite spec is one DVC custom template, .dvc/plots/<template>.json, so
`dvc plots show` and this module draw the same thing. `spec` fills it in-process with DVC's own
converter and renderer (the code behind `dvc plots show --json`), reading the data files
directly: the report stage runs under `dvc repro`'s repository lock, where running
`dvc plots show` is not safe. vl-convert then renders with its bundled engine, because the HTML
`dvc plots show` writes loads vega from a CDN, which fails with no network.

`lmpipe plots` writes each plot as PNG and as HTML with the JavaScript inlined.
"""
from __future__ import annotations

import re
from pathlib import Path

import vl_convert as vlc
import yaml

from pipeline.config import resolve_path
from pipeline.env import project_root
from pipeline.errors import InputError

REV = "workspace"  # the revision name `dvc plots show` gives the working tree


def definitions() -> dict[str, dict]:
    """{plot id: properties} of dvc.yaml: its top-level `plots:` and the stages' plot outputs,
    whose ids are their paths (DVC's ids, as `dvc plots show --json` keys them)."""
    from dvc.schema import PLOT_PROPS

    dvc_yaml = yaml.safe_load((project_root() / "dvc.yaml").read_text()) or {}
    entries = list(dvc_yaml.get("plots") or [])
    for stage in (dvc_yaml.get("stages") or {}).values():
        # a stage's plot may carry output settings (cache, persist) that are no plot property
        entries += [{path: {k: v for k, v in (props or {}).items() if k in PLOT_PROPS}}
                    for entry in stage.get("plots") or [] for path, props in _entry(entry)]
    return {plot_id: props or {} for entry in entries for plot_id, props in _entry(entry)}


def _entry(entry: str | dict):
    """A dvc.yaml plots list item: `id` or `{id: properties}`."""
    return [(entry, {})] if isinstance(entry, str) else entry.items()


def _filled(plot_id: str, props: dict) -> dict:
    """The filled template, {} while the plot's data files are missing or empty."""
    from dvc.fs import LocalFileSystem
    from dvc.render.match import match_defs_renderers
    from dvc.repo.plots import infer_data_sources, parse

    root = project_root()
    fs = LocalFileSystem()
    # the shape of what `dvc plots show` collects for one revision
    data = {REV: {"definitions": {"data": {"dvc.yaml": {"data": {plot_id: props}}}},
                  "sources": {"data": {src: parse(fs, str(root / src), props)
                                       for src in infer_data_sources(plot_id, props)}}}}
    (match,) = match_defs_renderers(data, templates_dir=str(root / ".dvc" / "plots"))
    return match.renderer.get_filled_template()


def specs() -> dict[str, dict]:
    """{plot id: filled Vega-Lite spec} for every plot of dvc.yaml that has data."""
    filled = {plot_id: _filled(plot_id, props) for plot_id, props in definitions().items()}
    return {plot_id: spec for plot_id, spec in filled.items() if spec}


def spec(plot_id: str) -> dict:
    """The filled Vega-Lite spec of one plot of dvc.yaml (e.g. "curate_funnel", "glue",
    "pretrain_loss"), as `dvc plots show --json` gives it for the workspace."""
    defined = definitions()
    if plot_id not in defined:
        raise InputError(f"dvc.yaml plots: no plot {plot_id!r} (there are {', '.join(defined)})")
    filled = _filled(plot_id, defined[plot_id])
    if not filled:
        raise InputError(f"plot {plot_id}: no data yet; run the stage that writes it first")
    return filled


def svg(plot_id: str) -> str:
    """The plot as a standalone SVG document, for embedding inline in HTML."""
    return vlc.vegalite_to_svg(spec(plot_id))


def render_all(out_dir: str | Path = "data/plots") -> list[Path]:
    out = resolve_path(out_dir)
    filled = specs()
    if not filled:
        raise InputError("dvc.yaml plots: no plot has data yet; run the pipeline first")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for plot_id, content in filled.items():
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(plot_id).stem)
        png = out / f"{stem}.png"
        png.write_bytes(vlc.vegalite_to_png(content, scale=2))
        html = out / f"{stem}.html"
        html.write_text(vlc.vegalite_to_html(content, bundle=True))
        written += [html, png]
    return written
