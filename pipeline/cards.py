"""Hugging Face cards: README.md beside every saved checkpoint (pretrain's model, finetune's
classifiers), and the report's full model card and dataset card.

All are written through huggingface_hub's ModelCard / DatasetCard, so the YAML header is the
one the Hub parses (model-index from EvalResult, the dataset card's fields), and a card that
would not parse fails here, not on upload. No card holds a date or a path: the same run writes
the same bytes.
"""
from __future__ import annotations

from huggingface_hub import DatasetCard, DatasetCardData, EvalResult, ModelCard, ModelCardData

from pipeline.glue import TASKS

# The licence of each ingest kind's text, as its publisher states it: Wikipedia and Wikinews
# text is CC BY-SA 4.0 (wikimediafoundation.org/wiki/Terms_of_Use); Project Gutenberg's books
# are public domain in the USA (gutenberg.org/policy/license.html); Common Crawl pages keep their
# owners' rights under Common Crawl's terms of use ("other" in the Hub's list).
LICENSE_BY_KIND = {"wikipedia_xml": "cc-by-sa-4.0", "wikipedia_parquet": "cc-by-sa-4.0",
                   "wikiextractor": "cc-by-sa-4.0", "gutenberg": "other", "warc": "other", "wet": "other",
                   "text": "other", "jsonl": "other"}
# The Hub's size buckets (huggingface.co/docs/hub/datasets-cards), by document count.
SIZE_BUCKETS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                (10_000_000, "1M<n<10M")]
CORPUS_NAME = "lmpipe-curated-corpus"


def size_category(docs: int) -> str:
    return next((name for limit, name in SIZE_BUCKETS if docs < limit), "n>10M")


def task_results(task: str, metrics: dict[str, float]) -> list[EvalResult]:
    """model-index entries of one GLUE task's dev metrics."""
    return [EvalResult(task_type="text-classification", dataset_type="nyu-mll/glue",
                       dataset_name=f"GLUE {TASKS[task].dir}", dataset_config=task, dataset_split="validation",
                       metric_type=metric, metric_value=value) for metric, value in metrics.items()]


def eval_results(glue: dict, model: str) -> list[EvalResult]:
    """model-index entries: GLUE dev, one per task metric, of one fine-tuned model kind."""
    return [r for task, row in glue["models"][model]["tasks"].items() for r in task_results(task, row["metrics"])]


def checkpoint_card(title: str, lines: list[str], pipeline_tag: str, results: list[EvalResult] | None = None,
                    model_name: str | None = None) -> ModelCard:
    """The README.md saved beside a checkpoint: what the stage that wrote it knows. Its licence
    is its training corpus's: the report's dataset card lists each source's."""
    data = ModelCardData(model_name=model_name or title, language="en", license="other",
                         license_name="training-corpus-licences", library_name="transformers",
                         pipeline_tag=pipeline_tag, tags=["lmpipe"], datasets=[CORPUS_NAME], eval_results=results)
    body = [f"# {title}", "", *lines, "", f"Licence: that of the training corpus `{CORPUS_NAME}`, whose dataset card "
            "(the report stage's cards/dataset/README.md) lists each source's."]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body) + "\n")


def corpus_licenses(sources: dict[str, str]) -> list[str]:
    return sorted({LICENSE_BY_KIND.get(kind, "other") for kind in sources.values()})


def model_license(sources: dict[str, str]) -> str:
    """A model trained on share-alike text (Wikipedia's CC BY-SA 4.0) is published under it."""
    licenses = corpus_licenses(sources)
    return "cc-by-sa-4.0" if "cc-by-sa-4.0" in licenses else "other"


def model_card(report: dict, sources: dict[str, str]) -> ModelCard:
    """The report's model card: the pretrained model with its GLUE results, bias, cost and lineage.
    `sources`: {source name: ingest kind}."""
    stages, glue, pretrain = report["stages"], report.get("glue") or {}, report["stages"]["pretrain"]
    masked = "MaskedLM" in pretrain["model_class"]
    model_name, license = f"lmpipe-{report['profile']}", model_license(sources)
    data = ModelCardData(
        model_name=model_name, language="en", license=license, library_name="transformers",
        pipeline_tag="fill-mask" if masked else "text-generation", tags=["lmpipe"], datasets=[CORPUS_NAME],
        eval_results=eval_results(glue, "pipeline") if "pipeline" in glue.get("models", {}) else None)
    crows, cost, lineage = (report.get("crows_pairs") or {}).get("pipeline", {}), report["cost"], report["lineage"]
    lines = [
        f"# {model_name}", "",
        f"A {pretrain['model_class']} ({pretrain['params']:,} parameters) pretrained by lmpipe on "
        f"{pretrain['tokens_seen']:,} tokens ({pretrain['epochs']} passes) of the corpus `{CORPUS_NAME}` "
        f"({stages['curate']['docs_kept']:,} documents, {stages['tokenizer']['train_tokens']:,} train tokens).", "",
        "## Training", "",
        f"- steps {pretrain['steps']:,}, precision {pretrain['precision']}, {pretrain['tokens_per_s']:,.0f} tokens/s, "
        f"MFU {pretrain['mfu']:.1%}" if pretrain.get("mfu") else f"- steps {pretrain['steps']:,}",
        f"- final validation loss {pretrain['val_loss']:.4f}", "",
        "## Evaluation (GLUE dev)", "", glue.get("markdown", "not run").split("\n", 2)[-1].strip(), "",
        "## Bias", "",
        f"- CrowS-Pairs (Nangia et al. 2020): {crows['metric']} over {crows['pairs']:,} pairs (an unbiased model "
        "scores 50)" if "metric" in crows else f"- CrowS-Pairs: not scored ({crows.get('skipped')})",
        "", "## Compute", "",
        f"- {cost['total']['energy_kwh']:.4g} kWh, {cost['total']['co2e_kg']:.4g} kg CO2e over all stages "
        f"({cost['total']['wall_time_s']:,.0f} s)", "",
        "## Lineage (DVC md5)", "",
        *[f"- {name}: `{item['path']}` {item['md5'] or 'not in dvc.lock'}" for name, item in lineage.items()], "",
        "## Limitations", "",
        "A small model trained on a small corpus: it is a baseline to build on, not a model to deploy. "
        "It inherits the biases of its corpus (see the dataset card's bias summary).",
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")


def dataset_card(report: dict, sources: dict[str, str]) -> DatasetCard:
    """`sources`: {source name: ingest kind}."""
    ingest, curate, tokenizer = (report["stages"][s] for s in ("ingest", "curate", "tokenizer"))
    data = DatasetCardData(language="en", license=corpus_licenses(sources), pretty_name=CORPUS_NAME,
                           size_categories=size_category(curate["docs_kept"]),
                           source_datasets=sorted(sources), task_categories=["fill-mask", "text-generation"])
    steps = curate.get("steps", {})
    mixture = tokenizer.get("mixture", {})
    bias = (report.get("corpus_bias") or {}).get("kept", {}).get("overall", {})
    lines = [
        f"# {CORPUS_NAME}", "",
        f"{curate['docs_kept']:,} documents kept of {curate['docs_in']:,} ingested "
        f"({curate['kept_fraction']:.1%}); {tokenizer['train_tokens']:,} train tokens "
        f"({tokenizer['algorithm']}, vocabulary {tokenizer['vocab_size']:,}).", "",
        "## Sources", "", "| source | kind | licence | records | ingested | tokens (unique) |", "|---|---|---|---:|---:|---:|",
        *[f"| {name} | {kind} | {LICENSE_BY_KIND.get(kind, 'other')} | {ingest['sources'][name]['records']:,} | "
          f"{ingest['sources'][name]['kept']:,} | {mixture.get(name, {}).get('unique_tokens', 0):,} |"
          for name, kind in sources.items() if name in ingest.get("sources", {})], "",
        "## Filters (datatrove, in pipeline order)", "", "| step | in | removed | rate | reasons |", "|---|---:|---:|---:|---|",
        *[f"| {step} | {s['docs_in']:,} | {s['docs_in'] - s['kept']:,} | "
          f"{(s['docs_in'] - s['kept']) / s['docs_in']:.1%} | {', '.join(f'{r} {n}' for r, n in s['removed'].items())} |"
          for step, s in steps.items() if s.get("docs_in")], "",
        "## Decontamination", "",
        f"{curate.get('contaminated', 0):,} documents removed for sharing a 13-gram with an evaluation set "
        "(GLUE dev/test).", "",
        "## Bias summary (kept documents)", "",
        f"- gendered words, male : female = {bias.get('gender', {}).get('male_to_female')}",
        f"- documents hit by the LDNOOBW bad-words list: {bias.get('badwords', {}).get('doc_rate', 0):.2%}", "",
    ]
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")
