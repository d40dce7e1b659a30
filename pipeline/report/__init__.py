"""report: the report card of a run, as one self-contained web page, JSON, markdown and two cards.

It reads what the other stages published (metrics/<stage>.json, the plot files, dvc.lock's
hashes) and computes only what no stage does: the corpus bias of the raw and the kept documents,
the pretrained model's CrowS-Pairs score, its attention maps and the SST-2 classifier's token
attributions. The analyses, what the inputs determine, go under paths.report (cached by DVC):
    bias.json           the corpus bias report, raw vs kept, per source
    crows_pairs.json    the CrowS-Pairs score with each pair's scores
    interpret/*.png     attention maps and token attributions
The rendered card quotes every stage's wall time and energy, which vary from run to run: it goes
under paths.report_card, an output of its own, so that the analyses hash the same in every
clone and rerun:
    index.html          the report card (inline SVG/PNG, no network)
    report.json/.md     every headline number
    cards/model/README.md, cards/dataset/README.md    Hugging Face cards
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Literal

import torch
import yaml

from pipeline.artifacts import atomic_dir, metrics_path, save_config, write_json, write_text_atomic
from pipeline.config import resolve_path
from pipeline.errors import InputError
from pipeline.finetune import saved_model_path
from pipeline.sources import data_root_path
from pipeline.stages import APPLICATIONS  # their metrics carry their own tables
from pipeline import cards
from pipeline.report import bias as corpus_bias, crows_pairs, html
from pipeline.report.costs import cost_summary
from pipeline.report import interpret
from pipeline.report.interpret import InterpretConfig
from pipeline.report.lineage import lineage
from pipeline.report.render import render_markdown

log = logging.getLogger(__name__)

STAGES_REPORTED = ["ingest", "curate", "validate", "tokenizer", "pretrain", "finetune", *APPLICATIONS]
# Published CrowS-Pairs metric of larger masked LMs (Nangia et al. 2020, Table 2), for scale.
CROWS_PUBLISHED = {"BERT-base": 60.5, "RoBERTa-large": 64.1, "ALBERT-xxlarge-v2": 67.0}


@dataclasses.dataclass
class BiasConfig:
    badwords: str = "badwords/ldnoobw/en"  # under data_root: LDNOOBW's English list, as curate's C4 step
    # sentences scored with VADER per identity term and scope (a uniform sample: bounds the time)
    max_sentences_per_term: int = corpus_bias.MAX_SENTENCES_PER_TERM


@dataclasses.dataclass
class CrowsConfig:
    pairs: str = "bias/crows-pairs/crows_pairs_anonymized.csv"  # under data_root (1,508 pairs)
    limit: int | None = None  # the first N pairs; None = all
    # bf16: the forward passes under autocast, as pretrain and finetune run the model. On the
    # default model (AMD EPYC, 2 threads) it took the report stage from 202 s to 110 s; the score
    # moved from 48.28 to 48.74 (7 of 1,508 pairs flipped by rounding). fp32 is metric.py's way.
    precision: Literal["bf16", "fp32"] = "bf16"


@dataclasses.dataclass
class Config:
    profile: str = "default"
    data_root: str = "../shared/data"
    report: str = "data/report"
    report_card: str = "data/report_card"
    docs: str = "data/docs"
    curated: str = "data/curated"
    tokenizer: str = "data/tokenizer"
    tokens: str = "data/tokens"
    model: str = "data/model"
    finetune: str = "data/finetune"
    glue: str = "glue"  # under data_root: SST-2 dev, whose predictions are explained
    # Stages whose metrics must exist; a missing one is an error, not a silent gap in the report.
    required: list[str] = dataclasses.field(default_factory=lambda: list(STAGES_REPORTED))
    # torch intra-op threads for the model work (CrowS-Pairs, attributions); 0 = torch's default
    # (every core). CrowS-Pairs on the default model: 69 s with 2 threads, 203 s with 1 (AMD EPYC).
    threads: int = 0
    bias: BiasConfig = dataclasses.field(default_factory=BiasConfig)
    crows_pairs: CrowsConfig = dataclasses.field(default_factory=CrowsConfig)
    interpret: InterpretConfig = dataclasses.field(default_factory=InterpretConfig)


def load_metrics(stage: str) -> dict | None:
    path = metrics_path(stage)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def data_path(cfg: Config, relative: str) -> Path:
    return data_root_path(cfg.data_root) / relative  # as every stage resolves data_root (~ expanded)


def ingest_sources(cfg: Config) -> dict[str, str]:
    """{source name: ingest kind}, from the config ingest saved beside its output."""
    saved = resolve_path(cfg.docs) / "config.yaml"
    if not saved.exists():
        raise InputError(f"{saved}: missing; run `lmpipe ingest` first")
    return {s["name"]: s["kind"] for s in yaml.safe_load(saved.read_text())["sources"]}


def model_bias(cfg: Config, out: Path) -> dict:
    """The pretrained model's CrowS-Pairs score (without the per-pair rows, which go to
    crows_pairs.json), or why it was not scored (a causal LM has no masked-LM head)."""
    try:
        result = crows_pairs.score(resolve_path(cfg.model), None, data_path(cfg, cfg.crows_pairs.pairs),
                                   cfg.crows_pairs.limit, bf16=cfg.crows_pairs.precision == "bf16")
    except InputError as exc:
        log.warning("CrowS-Pairs: %s", exc)
        return {"pipeline": {"skipped": str(exc)}, "published": CROWS_PUBLISHED, "unbiased": crows_pairs.UNBIASED}
    write_json(out / "crows_pairs.json", result)
    headline = {k: v for k, v in result.items() if k != "scores"}
    return {"pipeline": headline, "published": CROWS_PUBLISHED, "unbiased": crows_pairs.UNBIASED}


def interpretability(cfg: Config, out: Path) -> dict:
    """Attention maps of the pretrained model; token attributions of the fine-tuned SST-2 model
    (skipped, with the reason, where finetune kept no SST-2 model of `interpret.model`)."""
    pictures, ic = out / "interpret", cfg.interpret
    pictures.mkdir(exist_ok=True)
    result = {"attention": interpret.attention_maps(resolve_path(cfg.model), ic.sentences, pictures / "attention.png",
                                                    ic.max_length, ic.max_layers, ic.max_heads)}
    classifier = resolve_path(saved_model_path(cfg.finetune, ic.model, "sst2"))
    if classifier.exists():
        result["attributions"] = interpret.token_attributions(
            classifier, interpret.glue_dev(data_path(cfg, cfg.glue)), pictures / "attributions.png", ic.ig_steps,
            ic.n_correct, ic.n_wrong, ic.max_tokens, ic.baseline)
    else:
        result["attributions"] = {"skipped": f"{classifier}: no fine-tuned SST-2 model (finetune.save_models)"}
    return result


def page_path(overrides: list[str] | None = None, params_path: str | None = None) -> Path:
    """`lmpipe report --open`: where the report page is; an error if it has not been written."""
    from pipeline.runner import resolve_config

    page = resolve_path(resolve_config("report", overrides, params_path).report_card) / "index.html"
    if not page.exists():
        raise InputError(f"{page}: not written yet; run `dvc repro report` (or `lmpipe report`)")
    return page


def run(cfg: Config) -> dict:
    stages = {s: load_metrics(s) for s in STAGES_REPORTED}
    missing = [s for s in cfg.required if stages.get(s) is None]
    if missing:
        raise InputError(f"{metrics_path(missing[0])}: missing; run `lmpipe {missing[0]}` first")
    stages = {s: m for s, m in stages.items() if m is not None}
    glue = load_metrics("glue")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    paths = {name: getattr(cfg, name) for name in ("docs", "curated", "tokenizer", "tokens", "model", "finetune")}
    applications = {s: stages[s] for s in APPLICATIONS if s in stages}
    report = {"profile": cfg.profile, "stages": stages, "glue": glue, "applications": applications,
              "cost": cost_summary(stages, glue), "lineage": lineage(paths)}
    with atomic_dir(cfg.report, resume=False) as out:
        log.info("corpus bias: raw %s vs kept %s", cfg.docs, cfg.curated)
        bias = corpus_bias.curation_bias(data_path(cfg, cfg.bias.badwords), cfg.docs, Path(cfg.curated) / "docs",
                                         max_sentences_per_term=cfg.bias.max_sentences_per_term)
        write_json(out / "bias.json", bias)
        report["corpus_bias"] = corpus_bias.headline(bias)
        log.info("CrowS-Pairs: %s", cfg.model)
        report["crows_pairs"] = model_bias(cfg, out)
        report["interpret"] = interpretability(cfg, out)
        save_config(cfg, out)
    sources = ingest_sources(cfg)
    with atomic_dir(cfg.report_card, resume=False) as out:
        write_json(out / "report.json", report)
        write_text_atomic(out / "report.md", render_markdown(report))
        write_text_atomic(out / "index.html", html.render(report, bias, resolve_path(cfg.report), resolve_path(cfg.report_card)))
        cards.model_card(report, sources).save(out / "cards" / "model" / "README.md")
        cards.dataset_card(report, sources).save(out / "cards" / "dataset" / "README.md")
    page = resolve_path(cfg.report_card) / "index.html"
    log.info("report -> %s", page)
    crows = report["crows_pairs"]["pipeline"]
    return {"stages_reported": len(stages), "page": str(Path(cfg.report_card) / "index.html"),
            "crows_pairs_metric": crows.get("metric"),
            "kept_male_to_female": report["corpus_bias"]["kept"]["male_to_female"],
            "energy_kwh_total": report["cost"]["total"]["energy_kwh"],
            "co2e_kg_total": report["cost"]["total"]["co2e_kg"],
            **{f"{s}_wall_time_s": m.get("wall_time_s") for s, m in stages.items()}}
