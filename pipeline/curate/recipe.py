"""The curation recipe as datatrove jobs, in FineWeb's order.

    decont_index  GLUE dev/test n-grams -> hashes                         (parallel over files)
    filter        docs -> length, url, lid, gopher x2, c4 x2, fineweb, pii  -> work/filtered
    exact_*       signature -> find -> filter                             -> work/unique
    minhash_*     signature -> buckets -> cluster -> filter, decontaminate -> docs/

Each dedup stage reads the folder its signature stage read, with the same number of tasks:
datatrove matches signatures to documents by (task, position), so both must see the same shard.
Every filter writes what it drops to removed/<step>/ with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter
from datatrove.pipeline.dedup import (ExactDedupFilter, ExactDedupSignature, ExactFindDedups,
                                      MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                      MinhashDedupSignature)
from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter)

from pipeline.curate.config import Config
from pipeline.curate.decont import GlueDecontIndexer
from pipeline.curate.io import DocsReader, DocsWriter
from pipeline.curate.normalize import content_key
from pipeline.curate.tokenizer import word_tokenizer
from pipeline.curate.steps import (CountingPIIFormatter, LengthFilter, LocalBadWordsFilter,
                                   OfflineLanguageFilter, OfflineURLFilter, read_list)


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
    warnings: list[str]


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


def build(cfg: Config, docs: Path, out: Path, work: Path, glue_files: list[Path], badwords: str | None,
          lid_model: str | None) -> Plan:
    tasks = cfg.executor.tasks
    removed = out / "removed"
    jobs, funnel, warnings = [], [], []

    # ---- heuristic filters and PII, one pass over the input
    b = _JobBuilder("filter", tasks, removed)
    b.add(DocsReader(str(docs), stride=True, limit=cfg.limit))

    def add_filter(name: str, make) -> None:
        b.add(make(b.removed_writer(name, name)), name)
        funnel.append(name)

    if cfg.length.enabled:
        add_filter("length", lambda w: LengthFilter(cfg.length.min_chars, cfg.length.max_chars, exclusion_writer=w))
    if cfg.url_filter.enabled:
        u = cfg.url_filter
        add_filter("url_filter", lambda w: OfflineURLFilter(
            soft_word_threshold=u.soft_word_threshold, use_integrated_lists=u.use_integrated_lists,
            extra_domains=read_list(u.extra_domains) if u.extra_domains else None,
            extra_urls=read_list(u.extra_urls) if u.extra_urls else None, exclusion_writer=w))
    if cfg.lid.enabled:
        add_filter("lid", lambda w: OfflineLanguageFilter(cfg.lid.languages, cfg.lid.threshold, lid_model,
                                                          exclusion_writer=w))
    lang = word_tokenizer(cfg.text_language)
    for name, cls in (("gopher_repetition", GopherRepetitionFilter), ("gopher_quality", GopherQualityFilter),
                      ("c4", C4QualityFilter)):
        step_cfg = getattr(cfg, name)
        if step_cfg.enabled:
            add_filter(name, lambda w, cls=cls, opts=step_cfg.options: cls(exclusion_writer=w, language=lang, **opts))
    if cfg.c4_badwords.enabled:
        if badwords:
            add_filter("c4_badwords", lambda w: LocalBadWordsFilter(badwords, cfg.c4_badwords.keep_fraction,
                                                                    exclusion_writer=w))
        else:
            warnings.append("c4_badwords: no word list (curate.c4_badwords.path) and no network; rule skipped")
    if cfg.fineweb_quality.enabled:
        add_filter("fineweb_quality", lambda w: FineWebQualityFilter(exclusion_writer=w, language=lang,
                                                                     **cfg.fineweb_quality.options))
    if cfg.pii.enabled:
        b.add(CountingPIIFormatter(remove_emails=cfg.pii.emails, remove_ips=cfg.pii.ips,
                                   only_remove_public_ips=cfg.pii.only_public_ips), "pii")
        funnel.append("pii")
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
        # GLUE files are indexed in parallel; the filter loads every *.index.hashes in the folder.
        jobs.insert(0, Job("decont_index", [GlueDecontIndexer([str(p) for p in glue_files], str(index), d_cfg, lang)],
                           max(1, min(tasks, len(glue_files))), [None]))
        b.add(NGramsDecontFilter(str(index), d_cfg, language=lang,
                                 exclusion_writer=b.removed_writer("decontaminate", "contaminated")),
              "decontaminate")
        funnel.append("decontaminate")
    b.add(DocsWriter(str(out / "docs")))
    jobs.append(b.job)
    return Plan(jobs, funnel, warnings)
