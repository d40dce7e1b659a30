"""The report card as one self-contained web page: templates/index.html.j2 filled from the report.

Plots are inline SVG, rendered by vl-convert from the same Vega-Lite templates `dvc plots`
uses (pipeline/plots.py); pictures are inline PNG (data: URIs). The page loads nothing: its
Content-Security-Policy forbids any request, and tests/test_report_html.py checks it in Chromium.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path

import jinja2

from pipeline import plots
from pipeline.errors import InputError
from pipeline.glue import TASKS

TEMPLATES = Path(__file__).parent / "templates"
PLOTS = {"funnel": "curate_funnel", "loss": "pretrain_loss", "glue": "glue",  # template slot -> plot name
         "ner": "ner", "qa": "qa", "summarization": "summarization", "translation": "translation"}
APP_TITLES = {"ner": "Named-entity recognition", "qa": "Extractive question answering",
              "summarization": "Dialogue summarization", "translation": "Translation, English to German"}


def fmt(value: object) -> str:
    """Numbers for people: thousands separators, 4 significant digits, FLOPs in engineering form."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}" if abs(value) < 1e9 else f"{value:.3g}"
    if abs(value) >= 1e6:
        return f"{value:.3g}"
    return f"{value:.4g}"


def energy(kwh: float | None) -> str:
    """kWh, or Wh below one kWh (a default run is a few Wh)."""
    if kwh is None:
        return "–"
    return f"{kwh:.3g} kWh" if kwh >= 1 else f"{kwh * 1000:.3g} Wh"


def plot_svgs() -> dict[str, str]:
    """{slot: inline SVG}; a plot whose data file is missing shows why instead."""
    out = {}
    for slot, name in PLOTS.items():
        try:
            out[slot] = plots.svg(name)
        except InputError as exc:
            out[slot] = f'<p class="note">No plot: {exc}</p>'
    return out


def picture(title: str, png: Path, page_dir: Path, note: str, skipped: str | None = None) -> dict:
    """A PNG inlined in the page, and linked relative to the page's directory."""
    if skipped or not png.exists():
        return {"title": title, "data": None, "note": skipped or f"{png.name} was not written"}
    return {"title": title, "data": base64.b64encode(png.read_bytes()).decode(),
            "href": os.path.relpath(png, page_dir), "note": note}


def glue_table(glue: dict) -> tuple[list[str], list[list], int]:
    """Headers, rows (the run's models, then the published reference rows) and where those start."""
    tasks = glue["tasks"]
    headers = ["model", "GLUE"] + [f"{TASKS[t].dir} ({'/'.join(TASKS[t].metrics)})" for t in tasks]
    rows = []
    for name, m in glue["models"].items():
        cells = ["/".join(fmt(v) for v in m["tasks"][t]["metrics"].values()) if t in m["tasks"] else None
                 for t in tasks]
        rows.append([f"{name} ({m.get('init', m.get('checkpoint', ''))})", m["glue_score"], *cells])
    reference = (glue.get("reference_test_set") or {}).get("models", {})
    for name, m in reference.items():
        cells = ["/".join(fmt(v) for v in m["tasks"].get(t, {}).values()) or None for t in tasks]
        rows.append([f"{name} [published, test]", m.get("published_glue_score"), *cells])
    return headers, rows, len(glue["models"])


def application_tables(applications: dict[str, dict]) -> list[dict]:
    """One table per application stage: its rows (pipeline, floor, off-the-shelf, baseline) with
    every metric, the examples trained on and the wall time."""
    tables = []
    for app, m in applications.items():
        headers = ["model", "kind", *m["metrics"], "train examples", "eval examples", "time (s)"]
        rows = [[name, r["kind"], *(r["metrics"].get(k) for k in m["metrics"]), r["train_examples"],
                 r["eval_examples"], r["time_s"]] for name, r in m["models"].items()]
        tables.append({"id": app, "title": APP_TITLES.get(app, app), "headers": headers, "rows": rows,
                       "note": m.get("note", ""), "setting": m.get("setting")})
    return tables


def cost_rows(costs: dict[str, dict]) -> list[list]:
    keys = ("wall_time_s", "cpu_time_s", "gpu_time_s", "flops", "energy_kwh", "co2e_kg")
    return [[name, *(c.get(k) for k in keys)] for name, c in costs.items()]


STAGE_HEADLINES = {
    "ingest": lambda m: f"{m['docs']:,} documents from {len(m.get('sources', {}))} sources",
    "curate": lambda m: f"{m['docs_kept']:,} kept ({m['kept_fraction']:.1%})",
    "validate": lambda m: f"{m['passed']}/{m['expectations']} expectations {'passed' if m['success'] else 'FAILED'}",
    "tokenizer": lambda m: f"{m['algorithm']} {m['vocab_size']:,}, {m['train_tokens']:,} train tokens",
    "pretrain": lambda m: f"val loss {m['val_loss']:.3f} after {m['tokens_seen']:,} tokens",
    "finetune": lambda m: ", ".join(f"{k} {v}" for k, v in m["glue_score"].items()),
    **{app: (lambda m: f"{m['primary']}: " + ", ".join(f"{k} {fmt(v)}" for k, v in m["score"].items()))
       for app in APP_TITLES},
}


def render(report: dict, bias: dict, analyses: Path, page_dir: Path) -> str:
    """The page written to `page_dir`, with the report stage's pictures from `analyses`."""
    stages, glue, cost = report["stages"], report.get("glue") or {}, report["cost"]
    pretrain, curate, tokenizer = stages["pretrain"], stages["curate"], stages["tokenizer"]
    crows, headline = report["crows_pairs"], report["corpus_bias"]
    scores = (glue.get("models") or {})
    tiles = [
        {"k": "GLUE-6, pipeline model", "v": fmt(scores.get("pipeline", {}).get("glue_score")),
         "s": " · ".join(f"{n} {fmt(m['glue_score'])}" for n, m in scores.items() if n != "pipeline")},
        {"k": "validation loss", "v": f"{pretrain['val_loss']:.3f}", "s": f"{pretrain['tokens_seen']:,} tokens seen"},
        {"k": "corpus", "v": f"{curate['docs_kept']:,} docs", "s": f"{tokenizer['train_tokens']:,} train tokens"},
        {"k": "energy, all stages", "v": energy(cost["total"]["energy_kwh"]),
         "s": f"{fmt(cost['total']['co2e_kg'])} kg CO₂e · {fmt(cost['total']['wall_time_s'])} s"},
        {"k": "CrowS-Pairs (50 = unbiased)", "v": fmt(crows["pipeline"].get("metric")),
         "s": (f"{fmt(crows['pipeline']['neutral'])} of {fmt(crows['pipeline']['pairs'])} pairs tied · "
               if "pairs" in crows["pipeline"] else "")
              + f"kept corpus male : female words {fmt(headline['kept']['male_to_female'])}"},
    ]
    stage_rows = [[s, STAGE_HEADLINES[s](m) if s in STAGE_HEADLINES else "", m.get("wall_time_s"),
                   (m.get("cost") or {}).get("cpu_time_s"), (m.get("cost") or {}).get("energy_kwh"),
                   (m.get("cost") or {}).get("co2e_kg")] for s, m in stages.items()]
    mixture = tokenizer.get("mixture", {})
    source_rows = [[name, s["records"], s["kept"], mixture.get(name, {}).get("unique_tokens"),
                    mixture.get(name, {}).get("share")] for name, s in stages["ingest"]["sources"].items()]
    pretrain_rows = [[pretrain["model_class"], pretrain["params"], pretrain["steps"], pretrain["tokens_seen"],
                      pretrain["val_loss"], pretrain["tokens_per_s"], pretrain.get("mfu")]]
    glue_headers, glue_rows, glue_ref_from = glue_table(glue) if glue else (["model"], [], 0)
    p = crows["pipeline"]
    crows_rows = ([["pipeline", p["metric"], p["stereotype_score"], p["antistereotype_score"], p["pairs"]]]
                  + [[name, score, None, None, 1508] for name, score in crows["published"].items()]
                  if "metric" in p else [])
    crows_type_rows = [[t, v["metric"], v["pairs"]] for t, v in p.get("by_bias_type", {}).items()]
    categories = list(headline["kept"]["identity_per_million"])
    bias_rows = []
    for scope in ("raw", "kept"):
        for source, s in [("all", bias[scope]["overall"]), *bias[scope]["by_source"].items()]:
            bias_rows.append([f"{scope} · {source}", s["docs"], s["words"], s["gender"]["male_to_female"],
                              s["badwords"]["doc_rate"], *(s["identity"][c]["per_million_words"] for c in categories)])
    kept = bias["kept"]["overall"]
    sentiment_rows = [[c, term, t["count"], t["per_million_words"], t["sentiment"]["n"], t["sentiment"]["mean"]]
                      for c, v in kept["identity"].items() for term, t in v["terms"].items() if t["count"]]
    interpret = report["interpret"]
    pictures = [
        picture("Attention maps of the pretrained model (layer × head)", analyses / "interpret" / "attention.png", page_dir,
                "Each panel: the attention weights of one head, queries down, keys across.",
                interpret["attention"].get("skipped")),
        picture("Token attributions of the fine-tuned SST-2 classifier (integrated gradients)",
                analyses / "interpret" / "attributions.png", page_dir,
                "Integrated gradients of the predicted class, per token: green pushes towards the prediction, red against; correct and wrong predictions.",
                interpret["attributions"].get("skipped")),
    ]
    lineage_rows = [[name, f"<code>{x['path']}</code>", x["stage"], x["md5"]] for name, x in report["lineage"].items()]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = lambda v: jinja2.filters.Markup(v) if isinstance(v, str) and v.startswith("<code>") else fmt(v)
    return env.get_template("index.html.j2").render(
        profile=report["profile"], cpu=pretrain.get("cpu", ""), tiles=tiles,
        stage_rows=stage_rows, cost=cost, plots=plot_svgs(), source_rows=source_rows, pretrain_rows=pretrain_rows,
        glue_headers=glue_headers, glue_rows=glue_rows, glue_ref_from=glue_ref_from,
        app_tables=application_tables(report.get("applications") or {}),
        cost_stage_rows=cost_rows(cost["by_stage"]), cost_model_rows=cost_rows(cost["by_model"]),
        crows=crows, crows_rows=crows_rows, crows_type_rows=crows_type_rows,
        bias_headers=["scope", "docs", "words", "male : female words", "bad-words doc rate", *categories],
        bias_rows=bias_rows, sentiment_rows=sentiment_rows, lang_rows=list(kept["lang"].items()),
        domain_rows=[*kept["domains"]["top"].items(), ["other", kept["domains"]["other"]]], pictures=pictures,
        lineage_rows=lineage_rows)
