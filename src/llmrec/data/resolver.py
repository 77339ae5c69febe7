"""``TitleResolver``: map the titles a model wrote to catalog movie ids, or call them invented.

Resolution runs in three steps, cheapest first:

1. **Exact** match of the normalised title (:func:`normalize_title`): accents removed, case
   folded, "&" read as "and", apostrophes dropped, other punctuation as spaces, a leading
   article read the same whether written in front ("The Patriot") or behind ("Patriot, The"),
   and a trailing "(1999)" taken off as the year hint. Titles that match with their article
   win; only when none does is the article ignored ("Patriot" finds "The Patriot"). Most model
   output resolves here.
2. **Year** to tell apart ids that share the normalised title (two "Twister"): the id whose
   year equals the hint, else the nearest year; without a hint, the most popular id when a
   ``popularity`` mapping is given, else the lowest id. A title held by one id matches whatever
   year was written (models often misremember years by one or two).
3. **Fuzzy** match for the rest: ``rapidfuzz.fuzz.ratio`` (normalised Indel similarity,
   0-100) between normalised titles, accepted when at least ``threshold`` (default
   :data:`DEFAULT_THRESHOLD` = 90: one or two typos in a typical 15-30 letter title, while
   sequels and invented variants such as "Matrix Reborn" vs "Matrix" score far lower). Misses
   of a batch are scored together with ``rapidfuzz.process.cdist`` on all cores.

Anything below the threshold is ``"unresolved"``: the model named a film that is not in the
catalog (a hallucination, or a real film outside it).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from llmrec.data.catalog import Catalog
from llmrec.errors import ConfigError

__all__ = [
    "DEFAULT_THRESHOLD",
    "Resolution",
    "ResolveMethod",
    "TitleResolver",
    "normalize_title",
]

DEFAULT_THRESHOLD = 90.0
"""Minimum ``fuzz.ratio`` (0-100) for a fuzzy match to count."""

ResolveMethod = Literal["exact", "exact_year", "fuzzy", "unresolved"]

# English, French, Italian and Spanish articles (German "die" is left out: "Die Hard").
_ARTICLES = ("the", "a", "an", "le", "la", "les", "l", "il", "el", "los", "las")
_YEAR_RE = re.compile(r"\s*[\(\[]\s*((?:18|19|20)\d{2})(?:\s*film)?\s*[\)\]]\s*$")
_TRAILING_ARTICLE_RE = re.compile(r"^(?P<body>.+?),\s*(?P<art>" + "|".join(_ARTICLES) + r")'?\s*$")
_ARTICLE_SET = frozenset(_ARTICLES)
_DROP_APOSTROPHES = str.maketrans("", "", "'’‘`´")
_NON_ALNUM_RE = re.compile(r"[\W_]+")
_CACHE_LIMIT = 1_000_000
# TitleResolver.shared: resolvers by (catalog id, threshold), dropped when no one holds them
_SHARED: weakref.WeakValueDictionary[tuple[int, float], TitleResolver] = (
    weakref.WeakValueDictionary()
)
_SHARED_LOCK = threading.Lock()


def normalize_title(title: str) -> tuple[str, int | None]:
    """The comparison key of ``title`` and the year written after it, if any.

    >>> normalize_title("Patriot, The (2000)")
    ('patriot', 2000)
    >>> normalize_title("Café Society & Friends")
    ('cafe society and friends', None)
    """
    _, key, year = _normalize(title)
    return key, year


def _normalize(title: str) -> tuple[str, str, int | None]:
    """``(full, key, year)``: ``full`` keeps a leading article (moved to the front), ``key``
    drops it. Fuzzy matching compares both, so "Teh Matrix" still finds "The Matrix"."""
    if title.isascii():
        text = title.casefold().strip()
    else:
        text = unicodedata.normalize("NFKD", title)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold().strip()
    year: int | None = None
    if text.endswith((")", "]")):
        match = _YEAR_RE.search(text)
        if match is not None:
            year = int(match.group(1))
            text = text[: match.start()]
    if "," in text:
        moved = _TRAILING_ARTICLE_RE.match(text)
        if moved is not None:
            text = f"{moved.group('art')} {moved.group('body')}"
    full = _clean(text)
    first, _, rest = full.partition(" ")
    bare = rest if rest and first in _ARTICLE_SET else full
    return full, bare, year


def _clean(text: str) -> str:
    """ "&" → "and", apostrophes dropped ("l'" kept apart), other non-alphanumerics → spaces."""
    if text.startswith(("l'", "l’")):
        text = "l " + text[2:]
    text = text.replace("&", " and ").translate(_DROP_APOSTROPHES)
    return " ".join(_NON_ALNUM_RE.sub(" ", text).split())


@dataclass(frozen=True)
class Resolution:
    """Where a model-written title landed: ``movie_id`` (``None`` if unresolved) and how.

    ``score`` is 100 for exact matches, the ``fuzz.ratio`` of the best candidate for fuzzy
    matches, and when unresolved the best score among the catalog titles of a length that could
    reach the threshold (0 if there is none), so users can see how close an invented title came.
    """

    movie_id: int | None
    score: float
    method: ResolveMethod
    query: str

    @property
    def resolved(self) -> bool:
        return self.movie_id is not None


class _TitleLike(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def year(self) -> int | None: ...


Query = str | tuple[str, int | None] | _TitleLike


class TitleResolver:
    """Resolve model-written titles against a :class:`~llmrec.data.Catalog`.

    ``threshold`` is the fuzzy cut-off (0-100); ``scorer`` any rapidfuzz scorer taking two
    strings and ``score_cutoff`` (default ``rapidfuzz.fuzz.ratio``); ``popularity`` (movie id →
    rating count) breaks ties between ids sharing a title when no year is given. Results are
    cached per (title, year), so repeated titles cost one dictionary lookup.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        scorer: Callable[..., float] | None = None,
        popularity: Mapping[int, int] | None = None,
    ) -> None:
        if not 0.0 <= threshold <= 100.0:
            raise ConfigError(f"threshold must be within [0, 100], got {threshold}")
        from rapidfuzz import fuzz

        self.catalog = catalog
        self.threshold = float(threshold)
        self.scorer: Callable[..., float] = fuzz.ratio if scorer is None else scorer
        self.popularity = dict(popularity) if popularity is not None else None
        by_full: dict[str, list[int]] = {}
        by_key: dict[str, list[int]] = {}
        by_choice: dict[str, list[int]] = {}
        self._years: dict[int, int | None] = {}
        for movie in catalog:
            full, key, _ = _normalize(movie.title)
            by_full.setdefault(full, []).append(movie.movie_id)
            by_key.setdefault(key, []).append(movie.movie_id)
            by_choice.setdefault(key, []).append(movie.movie_id)
            if full != key:
                by_choice.setdefault(full, []).append(movie.movie_id)
            self._years[movie.movie_id] = movie.year
        self._by_full = by_full
        self._by_key = by_key
        # Fuzzy candidates: every bare key, plus the article-first form where there is one.
        self._by_choice = by_choice
        # Sorted by length, so a length band (see _band) is one slice.
        self._keys: list[str] = sorted(by_choice, key=lambda k: (len(k), k))
        self._key_lengths = np.fromiter((len(k) for k in self._keys), np.int64, len(self._keys))
        self._prune = self.scorer is fuzz.ratio
        self._cache: dict[tuple[str, int | None], Resolution] = {}

    def __repr__(self) -> str:
        return f"TitleResolver({len(self.catalog):,} titles, threshold={self.threshold:g})"

    @classmethod
    def shared(cls, catalog: Catalog, *, threshold: float = DEFAULT_THRESHOLD) -> TitleResolver:
        """The resolver of ``catalog`` at ``threshold`` with the default scorer, built once and
        shared while anyone holds it (a refit, another backend or another run on the same
        catalog object reuses the index and the resolved titles)."""
        key = (id(catalog), float(threshold))
        with _SHARED_LOCK:
            made = _SHARED.get(key)
            if made is None or made.catalog is not catalog:
                made = cls(catalog, threshold=threshold)
                _SHARED[key] = made
        return made

    # -- public --------------------------------------------------------------------------------
    def resolve(self, text: str, year: int | None = None) -> Resolution:
        """Resolve one title; ``year`` overrides a year written in ``text``."""
        return self.resolve_many([(text, year)])[0]

    def resolve_many(self, items: Iterable[Query]) -> list[Resolution]:
        """Resolve many titles at once (strings, ``(title, year)`` pairs or objects with
        ``.title`` and ``.year`` such as :class:`llmrec.prompts.ParsedTitle`), in order.

        Exact matches and cached titles are looked up one by one; the remaining distinct titles
        are fuzzy-matched together in blocks with ``rapidfuzz.process.cdist``.
        """
        queries = [_as_pair(item) for item in items]
        out: list[Resolution | None] = [None] * len(queries)
        pending: dict[tuple[str, int | None], list[int]] = {}
        forms: list[tuple[str, str, int | None]] = []  # normalised forms of the pending titles
        for i, (text, hint) in enumerate(queries):
            cached = self._cache.get((text, hint))
            if cached is not None:
                out[i] = cached
                continue
            full, key, written_year = _normalize(text)
            year = hint if hint is not None else written_year
            # The title as written (article included) first: "The Lost Ghost" and "Lost Ghost"
            # may be different films; the bare title only when that finds nothing.
            ids = (self._by_full.get(full) or self._by_key.get(key)) if key else None
            if not key:
                out[i] = Resolution(None, 0.0, "unresolved", text)
            elif ids is not None:
                result = self._pick(ids, year, text, score=100.0, exact=True)
                self._remember((text, hint), result)
                out[i] = result
            else:
                if (text, hint) not in pending:
                    forms.append((full, key, written_year))
                pending.setdefault((text, hint), []).append(i)
        if pending:
            fuzzy = self._fuzzy(list(pending), forms)
            for (text, hint), result in zip(pending, fuzzy, strict=True):
                self._remember((text, hint), result)
                for i in pending[(text, hint)]:
                    out[i] = result
        return [r for r in out if r is not None]

    # -- internals -----------------------------------------------------------------------------
    def _remember(self, key: tuple[str, int | None], result: Resolution) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = result

    def _pick(
        self, ids: Sequence[int], year: int | None, query: str, *, score: float, exact: bool
    ) -> Resolution:
        """Choose among ids sharing one normalised title (see the module docstring)."""
        if len(ids) == 1:
            return Resolution(ids[0], score, "exact" if exact else "fuzzy", query)
        if year is not None:

            def distance(mid: int) -> tuple[int, int, int]:
                y = self._years[mid]
                gap = abs(y - year) if y is not None else 10_000
                return (gap, -self._pop(mid), mid)

            best = min(ids, key=distance)
            return Resolution(best, score, "exact_year" if exact else "fuzzy", query)
        best = min(ids, key=lambda mid: (-self._pop(mid), mid))
        return Resolution(best, score, "exact" if exact else "fuzzy", query)

    def _pop(self, movie_id: int) -> int:
        return 0 if self.popularity is None else int(self.popularity.get(movie_id, 0))

    def _band(self, length: int) -> tuple[int, int]:
        """Slice of the length-sorted choices that can reach the threshold.

        For ``fuzz.ratio``, ``100 · 2·LCS / (la + lb) <= 100 · 2·min(la, lb) / (la + lb)``, so a
        score of at least ``t = threshold / 100`` needs ``la·t/(2-t) <= lb <= la·(2-t)/t``.
        Other scorers (partial matches) get every choice.
        """
        t = self.threshold / 100.0
        if not self._prune or t <= 0.0:
            return 0, len(self._keys)
        low = math.ceil(length * t / (2.0 - t) - 1e-9)
        high = math.floor(length * (2.0 - t) / t + 1e-9)
        lo = int(np.searchsorted(self._key_lengths, low, side="left"))
        hi = int(np.searchsorted(self._key_lengths, high, side="right"))
        return lo, hi

    def _fuzzy(
        self,
        queries: list[tuple[str, int | None]],
        forms: list[tuple[str, str, int | None]],
        block: int = 512,
    ) -> list[Resolution]:
        """Fuzzy-match titles with no exact match; each distinct normalised form is scored once,
        against the choices of compatible length only, in blocks with ``process.cdist``."""
        from rapidfuzz import process

        distinct = list(dict.fromkeys(full for full, _, _ in forms if full))
        by_length: dict[int, list[str]] = {}
        for full in distinct:
            by_length.setdefault(len(full), []).append(full)
        matches: dict[str, tuple[float, list[int]]] = {}
        for length, fulls in by_length.items():
            lo, hi = self._band(length)
            if lo >= hi:
                continue  # no catalog title is long or short enough to reach the threshold
            choices = self._keys[lo:hi]
            for start in range(0, len(fulls), block):
                chunk = fulls[start : start + block]
                scores = process.cdist(
                    chunk, choices, scorer=self.scorer, dtype=np.float32, workers=-1
                )
                best = scores.max(axis=1)
                for j, full in enumerate(chunk):
                    matches[full] = self._best_of_row(scores[j], float(best[j]), full, choices)
        results = []
        for (text, hint), (full, _, written_year) in zip(queries, forms, strict=True):
            score, ids = matches.get(full, (0.0, []))
            if not ids:
                results.append(Resolution(None, score, "unresolved", text))
            else:
                year = hint if hint is not None else written_year
                results.append(self._pick(ids, year, text, score=score, exact=False))
        return results

    def _best_of_row(
        self, scores: Any, best: float, key: str, choices: Sequence[str]
    ) -> tuple[float, list[int]]:
        """The exact best score and the ids reaching it (none when below the threshold)."""
        candidates = np.flatnonzero(scores == best).tolist()
        # Report the scorer's exact value rather than the float32 matrix entry.
        exact_best = float(self.scorer(key, choices[candidates[0]])) if candidates else 0.0
        if exact_best < self.threshold or exact_best <= 0.0:
            return exact_best, []
        ids = {mid for c in candidates for mid in self._by_choice[choices[c]]}
        return exact_best, sorted(ids)


def _as_pair(item: Query) -> tuple[str, int | None]:
    if isinstance(item, str):
        return item, None
    if isinstance(item, tuple):
        title, year = item
        return str(title), None if year is None else int(year)
    return str(item.title), None if item.year is None else int(item.year)
