"""The curation recipe as datatrove jobs, in FineWeb's order.

    decont_index  GLUE dev/test n-grams -> hashes                         (parallel over files)
    filter        docs -> length, url, lid, gopher x2, c4 x2, fineweb, pii, length again -> work/filtered
    exact_*       signature -> find -> filter                             -> work/unique
    minhash_*     signature -> buckets -> cluster -> filter, decontaminate -> docs/

Each dedup stage reads the folder its signature stage read, with the same number of tasks:
datatrove matches signatures to documents by (task, position), so both must see the same shard.
Every filter writes what it drops to removed/<step>/ with the reason.

With curate.recipes, a tagger after the reader names each document's recipe, and a filter step
whose settings differ between recipes becomes a RecipeFilter holding one datatrove filter per
distinct setting: still one funnel step, one removed/<step>/ folder, one set of counters.
Dedup and decontamination stay one pass over every source together.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter
from datatrove.pipeline.dedup import (ExactDedupFilter, ExactDedupSignature, ExactFindDedups,
                                      MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                      MinhashDedupSignature)
from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.filters import (C4BadWordsFilter, C4QualityFilter, FineWebQualityFilter,
                                        GopherQualityFilter, GopherRepetitionFilter)
from datatrove.pipeline.filters.base_filter import BaseFilter

from pipeline.config import resolve_path
from pipeline.curate.config import BadWordsConfig, Config
from pipeline.curate.decont import EvalSetDecontIndexer
from pipeline.curate.io import DocsReader, DocsWriter
from pipeline.curate.normalize import content_key
from pipeline.curate.tokenizer import word_tokenizer
from pipeline.curate.steps import (CountingPIIFormatter, LengthFilter, LocalBadWordsFilter,
                                   OfflineLanguageFilter, OfflineURLFilter, RecipeFilter, RecipeTagger, read_list)
from pipeline.sources import data_root_path


@dataclass
class Job:
    name: str
    pipeline: list[PipelineStep]
    tasks: int
    # funnel step name of each pipeline entry (None: not a funnel step), parallel to `pipeline`
    steps: list[str | None] = field(default_factory=list)
    workers: int | None = None  # None: the executor's


@dataclass
class Plan:
    jobs: list[Job]
    funnel: list[str]        # funnel steps in order


class _JobBuilder:
    """Appends steps to a job, wiring each filter's exclusion writer to removed/<step>/."""

    def __init__(self, name: str, tasks: int, removed: Path):
        self.job = Job(name, [], tasks)
        self.removed = removed

    def add(self, step: PipelineStep, funnel_name: str | None = None) -> None:
        self.job.pipeline.append(step)
        self.job.steps.append(funnel_name)

    def removed_writer(self, step: str, reason: str) -> DocsWriter:
        return DocsWriter(str(self.removed / step), reason=reason)


def badwords_path(cfg: Config, settings: BadWordsConfig) -> Path:
    """The bad-words list or directory; a relative path is under data_root."""
    return data_root_path(cfg.data_root) / settings.path


def badwords_filter(cfg: Config, settings: BadWordsConfig, writer) -> BaseFilter:
    """Ours on a local list; for an empty path datatrove's own, which downloads the lists
    (run() has checked that the list is there, or that the network may be used)."""
    if settings.path:
        return LocalBadWordsFilter(str(badwords_path(cfg, settings)), settings.keep_fraction, exclusion_writer=writer)
    return C4BadWordsFilter(keep_fraction=settings.keep_fraction, fail_on_missing_language=False, seed=0,
                            exclusion_writer=writer)


def per_recipe(cfg: Config, name: str, make: Callable[..., BaseFilter], writer) -> BaseFilter | None:
    """Filter step `name`: `make(settings, exclusion_writer)` once when every recipe has the
    base's settings, else a RecipeFilter with one instance per distinct settings (an instance
    can be large: the URL filter's block list, the language model). None: off for everyone."""
    by_recipe = cfg.step_settings(name)
    enabled = [s for s in by_recipe.values() if s.enabled]
    if not enabled:
        return None
    if len(enabled) == len(by_recipe) and all(s == enabled[0] for s in enabled):
        return make(enabled[0], writer)
    instances: dict[str, BaseFilter] = {}
    filters: dict[str | None, BaseFilter | None] = {}
    for recipe, settings in by_recipe.items():
        if not settings.enabled:
            filters[recipe] = None
            continue
        key = json.dumps(asdict(settings), sort_keys=True, default=str)
        if key not in instances:
            instances[key] = make(settings, None)
        filters[recipe] = instances[key]
    return RecipeFilter(filters, exclusion_writer=writer)


def build(cfg: Config, docs: Path, out: Path, work: Path, eval_files: list[tuple[str, Path]]) -> Plan:
    tasks = cfg.executor.tasks
    removed = out / "removed"
    jobs, funnel = [], []

    # ---- heuristic filters and PII, one pass over the input
    b = _JobBuilder("filter", tasks, removed)
    b.add(DocsReader(str(docs), stride=True, limit=cfg.limit))
    if cfg.recipes:
        b.add(RecipeTagger(cfg.recipes))
    lang = word_tokenizer(cfg.text_language)

    def add_filter(name: str, make: Callable[..., BaseFilter]) -> None:
        step = per_recipe(cfg, name, make, b.removed_writer(name, name))
        if step is not None:
            b.add(step, name)
            funnel.append(name)

    add_filter("length", lambda s, w: LengthFilter(s.min_chars, s.max_chars, exclusion_writer=w))
    add_filter("url_filter", lambda s, w: OfflineURLFilter(
        soft_word_threshold=s.soft_word_threshold, use_integrated_lists=s.use_integrated_lists,
        extra_domains=read_list(s.extra_domains) if s.extra_domains else None,
        extra_urls=read_list(s.extra_urls) if s.extra_urls else None, exclusion_writer=w))
    # the model file is there: run() fetched it (ensure_model) for every recipe with the step on
    add_filter("lid", lambda s, w: OfflineLanguageFilter(s.languages, s.threshold, str(resolve_path(s.model)),
                                                         exclusion_writer=w))
    for name, cls in (("gopher_repetition", GopherRepetitionFilter), ("gopher_quality", GopherQualityFilter),
                      ("c4", C4QualityFilter)):
        add_filter(name, lambda s, w, cls=cls: cls(exclusion_writer=w, language=lang, **s.kwargs()))
    add_filter("c4_badwords", lambda s, w: badwords_filter(cfg, s, w))
    add_filter("fineweb_quality", lambda s, w: FineWebQualityFilter(exclusion_writer=w, language=lang, **s.kwargs()))
    if cfg.pii.enabled:
        b.add(CountingPIIFormatter(remove_emails=cfg.pii.emails, remove_ips=cfg.pii.ips,
                                   only_remove_public_ips=cfg.pii.only_public_ips), "pii")
        funnel.append("pii")
    if cfg.length.enabled:
        # C4's rule deletes short lines and PII rewrites text: a document can leave them below
        # the minimum (a 105-char Wikipedia stub kept 76 after C4 dropped "Distribution."), and
        # validate's length gate would then fail the run
        b.add(LengthFilter(cfg.length.min_chars, cfg.length.max_chars,
                           exclusion_writer=b.removed_writer("length_after_edits", "length_after_edits")),
              "length_after_edits")
        funnel.append("length_after_edits")
    current = work / "filtered"
    b.add(DocsWriter(str(current)))
    jobs.append(b.job)

    # ---- exact dedup on a normalized content hash
    if cfg.exact_dedup.enabled:
        exact_cfg = ExactDedupConfig(content_getter=content_key)
        sigs, dups = work / "exact" / "sigs", work / "exact" / "dups"
        jobs.append(Job("exact_signature", [DocsReader(str(current)), ExactDedupSignature(str(sigs), exact_cfg)],
                        tasks, [None, None]))
        jobs.append(Job("exact_find", [ExactFindDedups(str(sigs), str(dups), exact_cfg)], 1, [None], workers=1))
        b = _JobBuilder("exact_filter", tasks, removed)
        b.add(DocsReader(str(current)))
        b.add(ExactDedupFilter(str(dups), exact_cfg, exclusion_writer=b.removed_writer("exact_dedup",
                                                                                        "exact_duplicate")),
              "exact_dedup")
        funnel.append("exact_dedup")
        current = work / "unique"
        b.add(DocsWriter(str(current)))
        jobs.append(b.job)

    # ---- MinHash near-dedup, then decontamination, into docs/
    b = _JobBuilder("final", tasks, removed)
    b.add(DocsReader(str(current)))
    if cfg.minhash.enabled:
        m = cfg.minhash
        mh_cfg = MinhashConfig(n_grams=m.n_grams, num_buckets=m.buckets, hashes_per_bucket=m.hashes_per_bucket,
                               seed=m.seed)
        mh = work / "minhash"
        jobs.append(Job("minhash_signature", [DocsReader(str(current)),
                                              MinhashDedupSignature(str(mh / "sigs"), mh_cfg, language=lang)],
                        tasks, [None, None]))
        jobs.append(Job("minhash_buckets", [MinhashDedupBuckets(str(mh / "sigs"), str(mh / "buckets"), config=mh_cfg)],
                        m.buckets, [None]))
        jobs.append(Job("minhash_cluster", [MinhashDedupCluster(str(mh / "buckets"), str(mh / "remove"), config=mh_cfg)],
                        1, [None], workers=1))
        b.add(MinhashDedupFilter(str(mh / "remove"), exclusion_writer=b.removed_writer("minhash_dedup",
                                                                                        "near_duplicate")),
              "minhash_dedup")
        funnel.append("minhash_dedup")
    if cfg.decontaminate.enabled:
        d_cfg = NGramsDecontConfig(n_grams=cfg.decontaminate.n_grams)
        index = work / "decont_index"
        # Evaluation files are indexed in parallel; the filter loads every *.index.hashes in the folder.
        files = [(kind, str(p)) for kind, p in eval_files]
        jobs.insert(0, Job("decont_index", [EvalSetDecontIndexer(files, str(index), d_cfg, lang)],
                           max(1, min(tasks, len(files))), [None]))
        b.add(NGramsDecontFilter(str(index), d_cfg, language=lang,
                                 exclusion_writer=b.removed_writer("decontaminate", "contaminated")),
              "decontaminate")
        funnel.append("decontaminate")
    b.add(DocsWriter(str(out / "docs")))
    jobs.append(b.job)
    return Plan(jobs, funnel)
