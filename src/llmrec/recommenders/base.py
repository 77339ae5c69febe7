"""The recommender contract: :class:`Recommendation` and the abstract :class:`Recommender`.

Every backend, built-in or plugin, subclasses :class:`Recommender` and implements two methods,
``_fit`` and ``_recommend_many``. The public methods around them do the shared work once, so
every backend behaves the same way:

* the constructor only validates and stores the configuration (a pydantic model with
  ``extra="forbid"``); nothing is computed or loaded until :meth:`Recommender.fit`;
* using a model before ``fit`` raises :class:`~llmrec.errors.NotFittedError`;
* ``k`` is checked, profiles are normalised to tuples of ints, and work is done in chunks (with
  an optional progress bar);
* the contract on the output is enforced: a recommendation never holds one of the profile's
  own movies, never holds a movie twice and never holds more than ``k`` movies. A backend should
  already honour this; if it does not, the offending entries are removed and counted in
  ``diagnostics["contract_removed"]``. Scores that are not finite or not non-increasing are a
  backend bug and raise :class:`~llmrec.errors.BackendError`.

Full ranking with exclusions (``recommend_many(profiles, k, exclude=...)``): every movie in a
profile's exclusion list (the user's whole history, the RecBole and LensKit convention for
full-catalogue evaluation) is left out too. A backend that ranks the whole catalogue
(``ranks_catalogue = True``: the classic ones) is asked for ``k`` more movies per excluded one,
so it still returns ``k``; a generating backend (a language model) is asked for ``k`` and the
excluded movies are removed from its answer. Either way the count removed is in
``diagnostics["excluded"]``.

Candidate ranking (:meth:`Recommender.rank`, :meth:`Recommender.rank_many`) follows the same
pattern around ``_rank_many``: the answer holds only candidates, never a profile movie, never a
movie twice, at most ``k`` of them (``k=None``: every candidate). Entries that break this are
removed and counted in ``diagnostics["contract_removed"]`` (``"not_candidate"`` among them).
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt
import pydantic

from llmrec._progress import progress_bar
from llmrec.errors import BackendError, ConfigError, NotFittedError

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings
    from llmrec.truth.dataset import ProfileDataset

__all__ = ["Profile", "RatingsRecommender", "Recommendation", "Recommender"]

#: A profile: a user's top movie ids, in order (a list, tuple or 1-D integer array).
Profile = Sequence[int] | npt.NDArray[np.integer[Any]]

_R = TypeVar("_R", bound="Recommender")


@dataclass(frozen=True)
class Recommendation:
    """One ranked list of movies for one profile.

    ``movie_ids`` are ranked best first, without duplicates and without the profile's movies;
    ``scores`` has the same length and never increases along the list. Language-model backends
    also fill ``raw_text`` (the model's answer), ``diagnostics`` (how the answer was parsed and
    resolved to movie ids), ``usage`` (``prompt_tokens``, ``completion_tokens``), ``latency_s``,
    ``cost_usd`` and ``cached`` (the answer came from the replay cache, so nothing was paid).
    """

    movie_ids: tuple[int, ...]
    scores: tuple[float, ...]
    raw_text: str | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    latency_s: float | None = None
    cost_usd: float | None = None
    cached: bool = False

    def __post_init__(self) -> None:
        if len(self.movie_ids) != len(self.scores):
            raise ValueError(
                f"Recommendation needs one score per movie, got {len(self.movie_ids)} movie ids "
                f"and {len(self.scores)} scores"
            )

    def __len__(self) -> int:
        return len(self.movie_ids)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            "movie_ids": list(self.movie_ids),
            "scores": list(self.scores),
            "raw_text": self.raw_text,
            "diagnostics": dict(self.diagnostics),
            "usage": dict(self.usage),
            "latency_s": self.latency_s,
            "cost_usd": self.cost_usd,
            "cached": self.cached,
        }

    @property
    def valid(self) -> bool:
        """Whether this is a usable answer: it holds at least one movie and did not fail.

        For a language-model answer that means the text parsed into at least one title that
        resolved to a catalog movie (to a candidate, when ranking) outside the profile, and the
        request did not fail for good (``diagnostics["failed"]``). The definition is the one of
        ``docs/metrics.md`` (validity-aware metrics).
        """
        return bool(self.movie_ids) and "failed" not in self.diagnostics


def _config_error(cls: type, exc: pydantic.ValidationError) -> ConfigError:
    return ConfigError.from_validation(f"{cls.__name__} configuration", exc)


class Recommender(abc.ABC):
    """Abstract base of every recommender backend.

    Subclasses set the class attributes ``name`` (the registry name) and ``config_class`` (a
    pydantic model with ``extra="forbid"``), and implement :meth:`_fit` and
    :meth:`_recommend_many`. Learned state lives in attributes whose names end in ``_``.

    ``chunk_size`` is how many profiles :meth:`recommend_many` hands to ``_recommend_many`` at a
    time: it bounds the memory of vectorised backends and sets the granularity of the progress
    bar. Backends that send requests concurrently pick a chunk size that keeps their workers busy.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[pydantic.BaseModel]]
    chunk_size: ClassVar[int] = 1024
    ranks_catalogue: ClassVar[bool] = True
    """Whether a longer ``k`` gives the same list, longer (a scored ranking of the catalogue);
    a language model, whose answer depends on the ``k`` it is asked for, sets False."""

    config: pydantic.BaseModel
    _fitted: bool = False

    def __init__(self, config: pydantic.BaseModel | None = None, /, **kwargs: Any) -> None:
        """Validate and store the configuration: a ``config_class`` instance or its fields."""
        cls = type(self)
        if config is not None:
            if kwargs:
                raise ConfigError(
                    f"{cls.__name__}: pass either a config object or keyword options, not both "
                    f"(got a config and {sorted(kwargs)})"
                )
            if not isinstance(config, cls.config_class):
                raise ConfigError(
                    f"{cls.__name__} expects a {cls.config_class.__name__}, "
                    f"got {type(config).__name__}"
                )
            self.config = config
        else:
            try:
                self.config = cls.config_class(**kwargs)
            except pydantic.ValidationError as exc:
                raise _config_error(cls, exc) from None
        self._fitted = False

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config.model_dump().items())
        return f"{type(self).__name__}({options})"

    # -- configuration ----------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The configuration as a dict of Python values."""
        return self.config.model_dump()

    def to_config(self) -> dict[str, Any]:
        """``{"name": ..., "config": {...}}``, JSON-ready; :meth:`from_config` rebuilds it."""
        return {"name": self.name, "config": self.config.model_dump(mode="json")}

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> Recommender:
        """Rebuild an (unfitted) recommender from :meth:`to_config` output.

        Called on a concrete class, ``data["name"]`` must be that class's name; called on
        :class:`Recommender` itself, the name is looked up in the registry.
        """
        if not isinstance(data, Mapping) or set(data) != {"name", "config"}:
            raise ConfigError(
                f"a recommender config is a mapping with keys 'name' and 'config', got {data!r}"
            )
        name, options = data["name"], data["config"]
        if not isinstance(options, Mapping):
            raise ConfigError(f"recommender config 'config' must be a mapping, got {options!r}")
        if cls is Recommender:
            from llmrec.recommenders._entry_points import instantiate

            instance: Recommender = instantiate(str(name), dict(options), Recommender)
            return instance
        if name != cls.name:
            raise ConfigError(f"{cls.__name__} is registered as {cls.name!r}, not {name!r}")
        try:
            config = cls.config_class.model_validate(dict(options))
        except pydantic.ValidationError as exc:
            raise _config_error(cls, exc) from None
        return cls(config)

    # -- fitting ----------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has completed."""
        return self._fitted

    def fit(
        self: _R,
        ratings: Ratings,
        catalog: Catalog | None = None,
        examples: ProfileDataset | None = None,
    ) -> _R:
        """Learn from the training ratings (and, if the backend uses them, the catalog and the
        training profiles); returns ``self``. Fitting again replaces the learned state."""
        self._fitted = False
        self._fit(ratings, catalog, examples)
        self._fitted = True
        return self

    @abc.abstractmethod
    def _fit(
        self,
        ratings: Ratings,
        catalog: Catalog | None,
        examples: ProfileDataset | None,
    ) -> None:
        """Compute the learned state (attributes ending in ``_``)."""

    # -- recommending -----------------------------------------------------------------------
    @abc.abstractmethod
    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        """One :class:`Recommendation` per profile, at most ``k`` movies each, best first."""

    def recommend(self, profile: Profile, k: int = 10) -> Recommendation:
        """The top ``k`` movies for one profile (a user's top movie ids, in order)."""
        return self.recommend_many([profile], k)[0]

    def recommend_many(
        self,
        profiles: Sequence[Profile],
        k: int = 10,
        *,
        exclude: Sequence[Sequence[int]] | None = None,
        progress: bool = False,
    ) -> list[Recommendation]:
        """The top ``k`` movies for each profile, in input order.

        Profile movies the model never saw in training carry no signal and are ignored; they are
        still never recommended back. ``exclude[i]`` lists more movies to leave out of profile
        ``i``'s list (full ranking that excludes the user's history; module docstring).
        """
        if not self._fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(ratings, catalog) first"
            )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        normalised = _normalise_profiles(profiles)
        extra: list[frozenset[int]] | None = None
        depth = k
        if exclude is not None:
            lists = _normalise_profiles(exclude, what="exclusion list")
            if len(lists) != len(normalised):
                raise ConfigError(
                    f"exclude needs one list per profile, got {len(lists)} lists for "
                    f"{len(normalised)} profiles"
                )
            extra = [frozenset(e).difference(p) for e, p in zip(lists, normalised, strict=True)]
            if self.ranks_catalogue:
                depth = k + max((len(e) for e in extra), default=0)
        recs = self._recommend_all(normalised, depth, progress=progress)
        if len(recs) != len(normalised):
            raise BackendError(
                f"{type(self).__name__} returned {len(recs)} recommendations for "
                f"{len(normalised)} profiles"
            )
        if extra is None:
            return [self._enforce(p, r, k) for p, r in zip(normalised, recs, strict=True)]
        return [
            _without(self._enforce(p, r, depth), e, k)
            for p, r, e in zip(normalised, recs, extra, strict=True)
        ]

    def _recommend_all(
        self, profiles: list[tuple[int, ...]], k: int, *, progress: bool
    ) -> list[Recommendation]:
        """Every profile, ``chunk_size`` at a time through :meth:`_recommend_many`.

        A backend that schedules its own work (a language model sending requests concurrently)
        overrides this instead; ``progress`` asks for a progress bar.
        """
        out: list[Recommendation] = []
        step = max(1, int(self.chunk_size))
        with progress_bar(
            enabled=progress, total=len(profiles), desc=f"{self.name} recommend"
        ) as bar:
            for start in range(0, len(profiles), step):
                chunk = profiles[start : start + step]
                recs = self._recommend_many(chunk, k)
                if len(recs) != len(chunk):
                    raise BackendError(
                        f"{type(self).__name__} returned {len(recs)} recommendations for "
                        f"{len(chunk)} profiles"
                    )
                out.extend(recs)
                bar.update(len(chunk))
        return out

    # -- ranking candidates ------------------------------------------------------------------
    def rank(
        self, profile: Profile, candidates: Sequence[int], k: int | None = None
    ) -> Recommendation:
        """Rank ``candidates`` for one profile, best first: the best ``k`` (``None``: all).

        See :meth:`rank_many`.
        """
        return self.rank_many([profile], [candidates], k)[0]

    def rank_many(
        self,
        profiles: Sequence[Profile],
        candidate_lists: Sequence[Sequence[int]],
        k: int | None = None,
        *,
        progress: bool = False,
    ) -> list[Recommendation]:
        """Rank each profile's candidates (``candidate_lists[i]`` for ``profiles[i]``).

        A recommendation holds only candidates, best first, at most ``k`` (``None``: every
        candidate the backend ranks). Candidates are given in presentation order (which a
        language model sees; score-based backends ignore it). A candidate list may not repeat a
        movie or hold one of its profile's movies (:class:`~llmrec.errors.ConfigError`).
        """
        if not self._fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(ratings, catalog) first"
            )
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ConfigError(f"k must be a positive integer or None, got {k!r}")
        normalised = _normalise_profiles(profiles)
        candidates = _normalise_candidates(candidate_lists, normalised)
        ks = [len(c) if k is None else k for c in candidates]
        recs = self._rank_all(normalised, candidates, k, progress=progress)
        if len(recs) != len(normalised):
            raise BackendError(
                f"{type(self).__name__} returned {len(recs)} rankings for "
                f"{len(normalised)} profiles"
            )
        return [
            self._enforce(p, r, kk, allowed=frozenset(c))
            for p, r, c, kk in zip(normalised, recs, candidates, ks, strict=True)
        ]

    def _rank_all(
        self,
        profiles: list[tuple[int, ...]],
        candidates: list[tuple[int, ...]],
        k: int | None,
        *,
        progress: bool,
    ) -> list[Recommendation]:
        """Every profile, ``chunk_size`` at a time through :meth:`_rank_many`."""
        out: list[Recommendation] = []
        step = max(1, int(self.chunk_size))
        with progress_bar(enabled=progress, total=len(profiles), desc=f"{self.name} rank") as bar:
            for start in range(0, len(profiles), step):
                chunk = profiles[start : start + step]
                recs = self._rank_many(chunk, candidates[start : start + step], k)
                if len(recs) != len(chunk):
                    raise BackendError(
                        f"{type(self).__name__} returned {len(recs)} rankings for "
                        f"{len(chunk)} profiles"
                    )
                out.extend(recs)
                bar.update(len(chunk))
        return out

    def _rank_many(
        self,
        profiles: list[tuple[int, ...]],
        candidates: list[tuple[int, ...]],
        k: int | None,
    ) -> list[Recommendation]:
        """One ranking of ``candidates[i]`` per profile, best first, at most ``k`` (``None``:
        all).

        The default is the backend's own full-catalogue order restricted to the candidates:
        :meth:`_recommend_many` is asked for longer lists (doubling) until every candidate is
        placed or the list stops growing. Candidates the backend never recommends come last,
        in ascending movie id, scored one below the lowest score given (and at most -1), and
        are counted in ``diagnostics["n_unscored"]``. Score-based backends override this with
        one vectorised pass; language-model backends with a prompt.
        """
        out: list[Recommendation] = []
        for profile, cands in zip(profiles, candidates, strict=True):
            wanted = set(cands)
            depth = max(1, 2 * (len(cands) + len(profile)))
            while True:
                full = self._recommend_many([profile], depth)[0]
                found = wanted.intersection(full.movie_ids)
                if len(found) == len(wanted) or len(full.movie_ids) < depth:
                    break
                depth *= 2
            placed = [
                (m, s) for m, s in zip(full.movie_ids, full.scores, strict=True) if m in wanted
            ]
            out.append(_with_unscored(placed, sorted(wanted - found), k))
        return out

    def _enforce(
        self,
        profile: tuple[int, ...],
        rec: Recommendation,
        k: int,
        *,
        allowed: frozenset[int] | None = None,
    ) -> Recommendation:
        """Apply the output contract to one recommendation (see the module docstring)."""
        given = rec.scores
        if not all(map(operator.le, given[1:], given[:-1])):  # fast check; then find the pair
            for a, b in itertools.pairwise(given):
                if not b <= a:
                    raise BackendError(
                        f"{type(self).__name__} returned scores that increase ({a!r} then {b!r})"
                    )
        if rec.scores and not all(math.isfinite(s) for s in (rec.scores[0], rec.scores[-1])):
            raise BackendError(f"{type(self).__name__} returned a non-finite score")
        given_ids = rec.movie_ids
        if (
            len(given_ids) <= k
            and len(set(given_ids)) == len(given_ids)
            and (allowed is None or allowed.issuperset(given_ids))
            and not set(profile).intersection(given_ids)
        ):
            return rec  # already conforming: the common case, checked with set operations
        own = set(profile)
        seen: set[int] = set()
        ids: list[int] = []
        scores: list[float] = []
        removed = {"profile": 0, "duplicate": 0, "beyond_k": 0}
        if allowed is not None:
            removed["not_candidate"] = 0
        for m, s in zip(rec.movie_ids, rec.scores, strict=True):
            if m in own:
                removed["profile"] += 1
            elif allowed is not None and m not in allowed:
                removed["not_candidate"] += 1
            elif m in seen:
                removed["duplicate"] += 1
            elif len(ids) >= k:
                removed["beyond_k"] += 1
            else:
                seen.add(m)
                ids.append(int(m))
                scores.append(float(s))
        if not any(removed.values()):
            return rec
        return dataclasses.replace(
            rec,
            movie_ids=tuple(ids),
            scores=tuple(scores),
            diagnostics={**rec.diagnostics, "contract_removed": removed},
        )


class RatingsRecommender(Recommender):
    """A backend that learns from the training ratings alone (popularity, item-kNN, EASE, the
    sequential models): the catalog and training profiles :meth:`Recommender.fit` accepts are
    not its business. It implements :meth:`_fit_ratings` instead of ``_fit``."""

    def _fit(
        self, ratings: Ratings, catalog: Catalog | None, examples: ProfileDataset | None
    ) -> None:
        self._fit_ratings(ratings)

    @abc.abstractmethod
    def _fit_ratings(self, ratings: Ratings) -> None:
        """Compute the learned state (attributes ending in ``_``) from ``ratings``."""


def _without(rec: Recommendation, excluded: frozenset[int], k: int) -> Recommendation:
    """``rec`` without the ``excluded`` movies, cut at ``k``; the count removed is recorded."""
    keep = [i for i, m in enumerate(rec.movie_ids) if m not in excluded]
    removed = len(rec.movie_ids) - len(keep)
    keep = keep[:k]
    return dataclasses.replace(
        rec,
        movie_ids=tuple(rec.movie_ids[i] for i in keep),
        scores=tuple(rec.scores[i] for i in keep),
        diagnostics={**rec.diagnostics, "excluded": removed},
    )


def _with_unscored(
    placed: list[tuple[int, float]], unscored: list[int], k: int | None
) -> Recommendation:
    """A ranking from scored ``(movie, score)`` pairs (best first) and unscored movies (last,
    in the given order, one below the lowest score and at most -1), cut at ``k``."""
    low = min(0.0, placed[-1][1]) - 1.0 if placed else -1.0
    pairs = [*placed, *((m, low) for m in unscored)]
    if k is not None:
        pairs = pairs[:k]
    diagnostics: dict[str, Any] = {"n_unscored": len(unscored)} if unscored else {}
    return Recommendation(
        tuple(int(m) for m, _ in pairs), tuple(float(s) for _, s in pairs), diagnostics=diagnostics
    )


def _normalise_candidates(
    candidate_lists: Sequence[Sequence[int]], profiles: list[tuple[int, ...]]
) -> list[tuple[int, ...]]:
    """Candidate lists as tuples of ints, one per profile, without repeats or profile movies."""
    if isinstance(candidate_lists, (str, bytes)) or not isinstance(
        candidate_lists, (Sequence, np.ndarray)
    ):
        raise ConfigError(
            f"candidate_lists must be a sequence of candidate lists, got "
            f"{type(candidate_lists).__name__}"
        )
    if len(candidate_lists) != len(profiles):
        raise ConfigError(
            f"rank_many needs one candidate list per profile, got {len(candidate_lists)} lists "
            f"for {len(profiles)} profiles"
        )
    out = _normalise_profiles(candidate_lists, what="candidate list")
    for i, (cands, profile) in enumerate(zip(out, profiles, strict=True)):
        unique = set(cands)
        if len(unique) != len(cands):
            twice = sorted({m for m in cands if cands.count(m) > 1})
            raise ConfigError(f"candidate list {i} holds movie(s) {twice} more than once: {cands}")
        if not unique.isdisjoint(profile):
            inside = unique.intersection(profile)
            raise ConfigError(
                f"candidate list {i} holds profile movie(s) {sorted(inside)}; a profile's own "
                "movies are never candidates"
            )
    return out


def _normalise_profiles(
    profiles: Sequence[Profile], *, what: str = "profile"
) -> list[tuple[int, ...]]:
    if isinstance(profiles, (str, bytes)) or not isinstance(profiles, (Sequence, np.ndarray)):
        raise ConfigError(f"profiles must be a sequence of profiles, got {type(profiles).__name__}")
    out: list[tuple[int, ...]] = []
    for i, p in enumerate(profiles):
        if type(p) is tuple and set(map(type, p)) <= {int}:  # the common case, no ABC checks
            out.append(p)
            continue
        if isinstance(p, (str, bytes)) or not isinstance(p, (Sequence, np.ndarray)):
            raise ConfigError(
                f"{what} {i} must be a sequence of movie ids, got {p!r}; "
                "for a single profile call recommend(profile, k) or rank(profile, candidates)"
            )
        if isinstance(p, (list, tuple)) and set(map(type, p)) <= {int}:
            out.append(tuple(p))
            continue
        try:
            out.append(tuple(_as_int(m) for m in p))
        except (TypeError, ValueError):
            raise ConfigError(f"{what} {i} must hold integer movie ids, got {p!r}") from None
    return out


def _as_int(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError("bool is not a movie id")
    index = getattr(type(value), "__index__", None)
    if index is None:
        raise TypeError(f"{value!r} is not an integer")
    return int(index(value))
