"""Holdout truths: gold is what each user actually rated in a held-out part of their ratings.

The rule shared by :class:`~llmrec.truth.ProbeTruth`, :class:`~llmrec.truth.LastNTruth` and
:class:`~llmrec.truth.TimeSplitTruth` (each decides only which ratings are held out):

* **gold** = held-out movies rated at least ``relevant_min_rating``, ordered by rating (high
  first), date (recent first), movie id (ascending); at most ``max_gold``;
* **profile** = the study's rule on the history (every rating not held out): rating (high
  first), date (recent first), movie id (ascending), the first ``profile_size``;
* **eligible** = at least ``min_five_star`` five-star ratings in the history and at least one
  gold movie; ``n_users`` targets are drawn among the eligible users (ascending ids) exactly as
  :class:`~llmrec.truth.NeighbourTruth` draws them (``default_rng([seed, 0])``, no replacement).

``history(ratings, users=...)`` is the table to fit baselines on: every rating except the
held-out ones of the given users (all users by default), so no held-out rating reaches a model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt
import pydantic
from pydantic import BaseModel, ConfigDict, Field

from llmrec._progress import progress_bar
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError
from llmrec.truth._holdout_kernel import count_at_least, gather, pack, user_runs
from llmrec.truth.dataset import Example, ProfileDataset
from llmrec.truth.leakage import check_fitting_set, check_holdout

__all__ = ["HoldoutConfig", "HoldoutTruth"]

FORMAT = "llmrec-truth/1"
_TOP_MOVIES = 100

C = TypeVar("C", bound="HoldoutConfig")


class HoldoutConfig(BaseModel):
    """Fields common to every holdout truth (JSON round trip, unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, description="Label stored with the dataset.")
    n_users: int | None = Field(
        default=10_000,
        ge=1,
        description="Targets drawn uniformly without replacement from the eligible users; "
        "None takes every eligible user (so does a number above their count).",
    )
    seed: int = Field(default=0, ge=0, description="Seed of the target draw.")
    relevant_min_rating: int = Field(
        default=4, ge=1, le=5, description="A held-out movie is gold with at least these stars."
    )
    profile_size: int = Field(default=10, ge=1, description="Movies in a target's profile.")
    min_five_star: int = Field(
        default=4, ge=0, description="Eligible users have this many 5-star ratings in history."
    )
    max_gold: int = Field(default=10, ge=1, description="Length of the gold list, at most.")
    check_leakage: bool = Field(
        default=True,
        description="Verify after building that no gold movie is in a profile or history and "
        "(time-based splits) that no history rating is later than the held-out ones.",
    )


class HoldoutTruth(ABC):
    """Base of the holdout truths: the subclass says which ratings are held out.

    Constructors only store the validated config (``Truth(config)`` or ``Truth(**fields)``);
    nothing is computed before :meth:`build`.
    """

    config_class: ClassVar[type[HoldoutConfig]] = HoldoutConfig
    protocol: ClassVar[str] = "holdout"

    def __init__(self, config: HoldoutConfig | None = None, **fields: Any) -> None:
        base = config.model_dump() if config is not None else {}
        try:
            self.config: HoldoutConfig = self.config_class.model_validate({**base, **fields})
        except pydantic.ValidationError as exc:
            raise ConfigError.from_validation(f"{type(self).__name__} configuration", exc) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # -- the split ----------------------------------------------------------------------------
    @abstractmethod
    def held_mask(self, ratings: Ratings, **context: Any) -> npt.NDArray[np.bool_]:
        """Whether each rating (in ``ratings``' order) is held out, for every user."""

    def _not_after(self) -> str | np.datetime64 | None:
        """What the leakage check compares history dates with (see :func:`check_holdout`)."""
        return None

    def _meta_extra(self, ratings: Ratings, **context: Any) -> dict[str, Any]:
        return {}

    def held_out(
        self, ratings: Ratings, *, users: npt.ArrayLike | None = None, **context: Any
    ) -> Ratings:
        """The held-out ratings of ``users`` (default: every user)."""
        return ratings.take(self._selected(ratings, users, **context))

    def history(
        self, ratings: Ratings, *, users: npt.ArrayLike | None = None, **context: Any
    ) -> Ratings:
        """Every rating except the held-out ones of ``users`` (default: every user).

        Fit baselines on ``history(ratings, users=test.user_ids)``: the test users' history plus
        all ratings of the other users, the setting of the issue's protocol.
        """
        return ratings.take(~self._selected(ratings, users, **context))

    def check_fitting(
        self,
        fitting: Ratings,
        ratings: Ratings,
        *,
        users: npt.ArrayLike | None = None,
        **context: Any,
    ) -> None:
        """Raise :class:`~llmrec.errors.LeakageError` if ``fitting`` holds a held-out rating of
        ``users`` (default: every user)."""
        check_fitting_set(fitting, self.held_out(ratings, users=users, **context))

    def _selected(
        self, ratings: Ratings, users: npt.ArrayLike | None, **context: Any
    ) -> npt.NDArray[np.bool_]:
        mask = self.held_mask(ratings, **context)
        if users is not None:
            wanted = np.unique(np.asarray(users, dtype=np.int64).ravel())
            mask &= np.isin(ratings.user_id, wanted)
        return mask

    # -- building -----------------------------------------------------------------------------
    def _targets(self, eligible: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Positions into ``eligible`` of the targets, as NeighbourTruth draws them."""
        n = self.config.n_users
        if n is None or n >= eligible.size:
            return np.arange(eligible.size, dtype=np.int64)
        rng = np.random.default_rng([self.config.seed, 0])
        return np.sort(rng.choice(eligible.size, size=n, replace=False)).astype(np.int64)

    def build(self, ratings: Ratings, *, progress: bool = True, **context: Any) -> ProfileDataset:
        """The :class:`ProfileDataset` of the sampled eligible users, in user-id order.

        ``meta`` records the protocol, the config, the ratings' fingerprint, the counts of
        eligible and ineligible users and of held-out ratings, and the 100 most-rated movies.
        """
        cfg = self.config
        with progress_bar(enabled=progress, total=4, desc=self.protocol) as bar:
            held = self.held_mask(ratings, **context)
            bar.update(1)
            key, layout = pack(ratings, held)
            bar.update(1)
            runs = user_runs(key, layout)
            five = count_at_least(key, layout, runs.hist_start, runs.n_hist, 5)
            five -= count_at_least(key, layout, runs.hist_start, runs.n_hist, 6)
            n_rel = count_at_least(
                key, layout, runs.held_start, runs.n_held, cfg.relevant_min_rating
            )
            enough_five = five >= cfg.min_five_star
            eligible = np.flatnonzero(enough_five & (n_rel >= 1))
            chosen = eligible[self._targets(eligible)]
            prof_pos, prof_ptr = gather(
                runs.hist_start[chosen], np.minimum(runs.n_hist[chosen], cfg.profile_size)
            )
            gold_pos, gold_ptr = gather(
                runs.held_start[chosen], np.minimum(n_rel[chosen], cfg.max_gold)
            )
            profile = layout.movie(key[prof_pos]).tolist()
            gold = layout.movie(key[gold_pos]).tolist()
            del key
            bar.update(1)
            pp, gp = prof_ptr.tolist(), gold_ptr.tolist()
            examples = [
                Example(
                    user_id=uid,
                    profile=tuple(profile[pp[i] : pp[i + 1]]),
                    gold=tuple(gold[gp[i] : gp[i + 1]]),
                )
                for i, uid in enumerate(runs.users[chosen].tolist())
            ]
            meta = {
                "format": FORMAT,
                "protocol": self.protocol,
                "name": cfg.name,
                "config": cfg.model_dump(mode="json"),
                "ratings_fingerprint": ratings.fingerprint(),
                "n_eligible": int(eligible.size),
                "n_targets": int(chosen.size),
                "left_out": {},
                "ineligible": {
                    "few_five_star": int(np.sum(~enough_five)),
                    "no_gold": int(np.sum(enough_five & (n_rel == 0))),
                },
                "n_held_out": int(np.sum(held)),
                "top_movies": _top_movies(ratings),
                **self._meta_extra(ratings, **context),
            }
            dataset = ProfileDataset(examples, meta)
            if cfg.check_leakage:
                check_holdout(dataset, ratings, held, not_after=self._not_after())
            bar.update(1)
        return dataset


def _top_movies(ratings: Ratings) -> list[int]:
    """The most-rated movies (raw ids; ties by id), for the popularity share in stats()."""
    movies = np.asarray(ratings.movie_id)
    if movies.size == 0:
        return []
    lo, hi = int(movies.min()), int(movies.max())
    if lo >= 0 and hi <= max(1 << 26, 4 * movies.size):
        counts = np.bincount(movies, minlength=hi + 1)
        ids = np.flatnonzero(counts)
        counts = counts[ids]
    else:
        ids, counts = np.unique(movies, return_counts=True)
    order = np.lexsort((ids, -counts))[:_TOP_MOVIES]
    return [int(m) for m in ids[order]]
