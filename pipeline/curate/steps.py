"""Our datatrove steps: only where datatrove has none, or where its own needs the network.

Each keeps datatrove's behaviour and stats; the changes are noted on the class.
"""
from __future__ import annotations

import re
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters import C4BadWordsFilter, LanguageFilter, URLFilter
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.filters.c4_filters import _BADWORDS_ALLOWLIST, _BADWORDS_LANGS
from datatrove.pipeline.formatters import PIIFormatter
from datatrove.utils.lid import FT176LID

from pipeline.curate.config import RecipeConfig, recipe_for
from pipeline.errors import InputError

BADWORDS_LANGUAGES = frozenset(_BADWORDS_LANGS)  # the languages LDNOOBW (and datatrove) have a list for


class LengthFilter(BaseFilter):
    """Drop documents outside [min_chars, max_chars] characters (empty ones are `too_short`)."""

    name = "📏 Length"

    def __init__(self, min_chars: int, max_chars: int, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.min_chars, self.max_chars = min_chars, max_chars

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        n = len(doc.text.strip())
        if n < self.min_chars:
            return False, "too_short"
        if n > self.max_chars:
            return False, "too_long"
        return True


def read_list(path: str | Path) -> list[str]:
    """Non-empty, non-comment lines of a list file."""
    lines = (line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class OfflineURLFilter(URLFilter):
    """URLFilter with tldextract on its bundled public-suffix snapshot (no fetch), and documents
    without a URL (e.g. from a Wikipedia dump) passed through and counted instead of asserting."""

    def __init__(self, **kwargs):
        from tldextract import TLDExtract

        super().__init__(**kwargs)
        self.tldextractor = TLDExtract(suffix_list_urls=())

    def filter(self, document: Document) -> bool | tuple[bool, str]:
        if not document.metadata.get("url"):
            self.stat_update("no_url")
            return True
        return super().filter(document)


class LocalFT176(FT176LID):
    """datatrove's lid.176 wrapper, loading the model from a local file."""

    def __init__(self, languages: list[str] | None, model_path: str):
        super().__init__(languages)
        self.model_path = model_path

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(self.model_path)
        return self._model


class OfflineLanguageFilter(LanguageFilter):
    """LanguageFilter on a local lid.176 model. Drops get a reason (datatrove gives none):
    `other_language` (best guess not a target) or `low_language_score` (a target, below the
    threshold). The predicted language is written to the document's `lang`."""

    def __init__(self, languages: list[str], threshold: float, model_path: str, exclusion_writer=None):
        super().__init__(languages=languages, language_threshold=threshold, exclusion_writer=exclusion_writer)
        self.model = LocalFT176(languages, model_path)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        keep = super().filter(doc)
        lang = doc.metadata["language"]
        doc.metadata["lang"] = lang
        self.stat_update(f"lang_{lang}")
        if keep:
            return True
        return False, "low_language_score" if lang in self.languages else "other_language"


class LocalBadWordsFilter(C4BadWordsFilter):
    """C4BadWordsFilter reading its lists from `path` (a file for every language, or a directory
    of per-language files named like LDNOOBW's) instead of downloading them from GitHub: datatrove
    takes them from a URL per language and has no parameter for a local copy. Otherwise as
    datatrove: whole-word matches (any substring for ja/th/zh), its allowlist, and documents in
    languages LDNOOBW has no list for pass, counted as `missing_badwords_lang`. Unlike datatrove,
    words are lower-cased like the text they are matched against (de/es/fr lists have capitals)."""

    def __init__(self, path: str, keep_fraction: float = 0.0, exclusion_writer=None):
        super().__init__(keep_fraction=keep_fraction, fail_on_missing_language=False, seed=0,
                         exclusion_writer=exclusion_writer)
        self.path = Path(path)

    def list_file(self, lang: str) -> Path | None:
        """The list for `lang`, or None where LDNOOBW has none for it."""
        if self.path.is_file():
            return self.path
        return self.path / lang if lang in BADWORDS_LANGUAGES else None

    def _get_badwords(self, lang: str):
        if lang not in self._badwords_regex:
            source = self.list_file(lang)
            if source is not None and not source.is_file():  # curate checks its languages' lists up front
                raise InputError(f"{source}: bad-words list not found (curate.c4_badwords.path)")
            words = set(w.lower() for w in read_list(source)) if source else set()
            words -= _BADWORDS_ALLOWLIST.get(lang, set())
            if not words:
                self._badwords_regex[lang] = None  # counted as missing_badwords_lang by filter()
            else:
                # the same pattern datatrove builds: whole words, except in scripts without spaces
                alternatives = "|".join(re.escape(w) for w in sorted(words))
                self._badwords_regex[lang] = (
                    re.compile(alternatives) if lang in ("ja", "th", "zh")
                    else re.compile(r"(?:\W|^)({})(?:\W|$)".format(alternatives)))
        return self._badwords_regex[lang]


class RecipeTagger(PipelineStep):
    """Writes each document's recipe (see curate.recipes) into metadata["recipe"]: the name of
    the recipe its `source` matches, None for the base settings. RecipeFilter routes on it, and
    removed/<step>/ records it next to the reason. Counted per recipe as `recipe_<name>`."""

    type = "🏷 - TAGGER"
    name = "🧭 Recipe"

    def __init__(self, recipes: dict[str, RecipeConfig]):
        super().__init__()
        self.recipes = recipes

    def run(self, data, rank: int = 0, world_size: int = 1):
        by_source: dict[str | None, str | None] = {}
        for doc in data:
            source = doc.metadata.get("source")
            if source not in by_source:
                by_source[source] = recipe_for(self.recipes, source)
            recipe = doc.metadata["recipe"] = by_source[source]
            self.stat_update(f"recipe_{recipe or 'base'}")
            yield doc


class RecipeFilter(BaseFilter):
    """One funnel step whose filter depends on the document's recipe (metadata["recipe"], from
    RecipeTagger): `filters` maps each recipe, and None for the base settings, to its instance of
    the step, or to None where that recipe turns the step off (its documents pass, counted as
    `skipped_<recipe>`). Recipes with equal settings share an instance. The instances count into
    this step's stats, so datatrove's counters and the funnel read as one step."""

    def __init__(self, filters: dict[str | None, BaseFilter | None], exclusion_writer=None):
        first = next(f for f in filters.values() if f is not None)
        self.name = first.name  # before BaseFilter's __init__, which names the stats after it
        super().__init__(exclusion_writer)
        self.filters = filters
        for f in filters.values():
            if f is not None:
                f.stats = self.stats

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        recipe = doc.metadata.get("recipe")
        f = self.filters[recipe]
        if f is None:
            self.stat_update(f"skipped_{recipe or 'base'}")
            return True
        return f.filter(doc)


class CountingPIIFormatter(PIIFormatter):
    """PIIFormatter that also counts the documents it changed."""

    def format(self, text: str) -> str:
        out = super().format(text)
        if out != text:
            self.stat_update("anonymized")
        return out
