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
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import math
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

__all__ = ["Profile", "Recommendation", "Recommender"]

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


def _config_error(cls: type, exc: pydantic.ValidationError) -> ConfigError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']} "
        f"(got {err.get('input')!r})"
        for err in exc.errors()
    )
    return ConfigError(f"invalid {cls.__name__} configuration: {problems}")


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
        self, profiles: Sequence[Profile], k: int = 10, *, progress: bool = False
    ) -> list[Recommendation]:
        """The top ``k`` movies for each profile, in input order.

        Profile movies the model never saw in training carry no signal and are ignored; they are
        still never recommended back.
        """
        if not self._fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(ratings, catalog) first"
            )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        normalised = _normalise_profiles(profiles)
        recs = self._recommend_all(normalised, k, progress=progress)
        if len(recs) != len(normalised):
            raise BackendError(
                f"{type(self).__name__} returned {len(recs)} recommendations for "
                f"{len(normalised)} profiles"
            )
        return [self._enforce(p, r, k) for p, r in zip(normalised, recs, strict=True)]

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

    def _enforce(self, profile: tuple[int, ...], rec: Recommendation, k: int) -> Recommendation:
        """Apply the output contract to one recommendation (see the module docstring)."""
        for a, b in itertools.pairwise(rec.scores):
            if not b <= a:
                raise BackendError(
                    f"{type(self).__name__} returned scores that increase ({a!r} then {b!r})"
                )
        if rec.scores and not all(math.isfinite(s) for s in (rec.scores[0], rec.scores[-1])):
            raise BackendError(f"{type(self).__name__} returned a non-finite score")
        own = set(profile)
        seen: set[int] = set()
        ids: list[int] = []
        scores: list[float] = []
        removed = {"profile": 0, "duplicate": 0, "beyond_k": 0}
        for m, s in zip(rec.movie_ids, rec.scores, strict=True):
            if m in own:
                removed["profile"] += 1
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


def _normalise_profiles(profiles: Sequence[Profile]) -> list[tuple[int, ...]]:
    if isinstance(profiles, (str, bytes)) or not isinstance(profiles, (Sequence, np.ndarray)):
        raise ConfigError(f"profiles must be a sequence of profiles, got {type(profiles).__name__}")
    out: list[tuple[int, ...]] = []
    for i, p in enumerate(profiles):
        if isinstance(p, (str, bytes)) or not isinstance(p, (Sequence, np.ndarray)):
            raise ConfigError(
                f"profile {i} must be a sequence of movie ids, got {p!r}; "
                "for a single profile call recommend(profile, k)"
            )
        if isinstance(p, (list, tuple)) and all(type(m) is int for m in p):
            out.append(tuple(p))
            continue
        try:
            out.append(tuple(_as_int(m) for m in p))
        except (TypeError, ValueError):
            raise ConfigError(f"profile {i} must hold integer movie ids, got {p!r}") from None
    return out


def _as_int(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError("bool is not a movie id")
    index = getattr(type(value), "__index__", None)
    if index is None:
        raise TypeError(f"{value!r} is not an integer")
    return int(index(value))
