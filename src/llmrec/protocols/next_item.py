"""Next-item prediction with candidates (LLaRA, LLMRank), leave-one-out in time order.

``next_item.build(ratings) -> NextItemSplit``: each user's ratings in time order (ties in file
order); the **target** is the last one (``stage="test"``) or the one before it
(``stage="valid"``: RecBole's ``LS: valid_and_test`` leave-one-out, which LLMRank runs on); the
**profile** is the ``history`` items just before the target, oldest first (LLaRA: 10, LLMRank:
up to 50); the **candidates** are the target plus ``n_candidates - 1`` seeded negatives never
rated by the user (:class:`~llmrec.truth.CandidateSampler`, stored as
:class:`~llmrec.truth.CandidateSets`), in a seeded order.

Where the peers differ, and what llmrec does:

* negatives: LLaRA draws them afresh on every read (``random.sample`` in ``__getitem__``),
  excluding only the movies in the history window and the target; LLMRank samples 100 movies
  per user once, uniformly over all movies, without excluding the user's own, and keeps the
  first 19 that are not the target. llmrec draws them once, seeded, stores them, and never uses
  a movie the user rated (at any time);
* eligibility: users with at least ``min_history`` items before the target (LLaRA keeps
  sequences of 3 or more; RecBole keeps every user);
* fitting data for classic backends (:attr:`NextItemSplit.fitting`): every user's ratings
  before the validation item, RecBole's training part, for both stages (the test profile still
  ends with the validation item, as in RecBole's test sequences).

Random guessing on 1 + 19 candidates scores NDCG@10 0.2272, Hit@10 0.5 and MRR@10 0.1464 in
expectation (RecLM-eval); see ``docs/protocols/next-item.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmrec._io import write_json_atomic
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError
from llmrec.protocols._order import clock, user_runs_in_time_order
from llmrec.truth.candidates import CandidateSampler, CandidateSets
from llmrec.truth.dataset import Example, ProfileDataset

__all__ = ["NextItemConfig", "NextItemSplit", "build"]


class NextItemConfig(BaseModel):
    """Options of :func:`build` (JSON round trip, unknown fields rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    history: int = Field(default=10, ge=1, description="Items before the target in the profile.")
    stage: Literal["test", "valid"] = Field(
        default="test", description="Target: the last item (test) or the one before (valid)."
    )
    n_candidates: int = Field(default=20, ge=2, description="Target + negatives per user.")
    negatives: Literal["uniform", "popularity"] = Field(
        default="uniform", description="Negatives uniform over the movies, or by rating count."
    )
    min_history: int = Field(
        default=1, ge=1, description="Users need this many items before the target."
    )
    n_users: int | None = Field(
        default=None, ge=1, description="Seeded sample of the eligible users (None: all)."
    )
    seed: int = Field(default=0, ge=0, description="Seed of the user sample and the negatives.")


@dataclass(frozen=True, repr=False)
class NextItemSplit:
    """What :func:`build` returns.

    ``dataset``: one :class:`~llmrec.truth.Example` per user (profile = the ``history`` items
    before the target, oldest first; gold = the target). ``candidates``: the 1 + 19 sets.
    ``fitting``: the ratings classic backends may learn from (no target, nothing after it).
    ``seen``: per user, every movie rated before the target, which a full-ranking evaluation
    leaves out (``recommend_many(..., exclude=...)``).
    """

    dataset: ProfileDataset
    candidates: CandidateSets
    fitting: Ratings
    seen: Mapping[int, tuple[int, ...]]
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"NextItemSplit({self.meta.get('stage')}, {len(self.dataset):,} users, "
            f"{self.meta.get('n_candidates')} candidates)"
        )

    def exclusions(self) -> list[tuple[int, ...]]:
        """``seen`` in the dataset's user order, ready for ``recommend_many(exclude=...)``."""
        return [self.seen[u] for u in self.dataset.user_ids]

    def save(self, folder: str | Path) -> Path:
        """Write ``examples.jsonl``, ``candidates.jsonl`` (each with its ``.meta.json``) and
        ``next_item.meta.json`` into ``folder``; the negatives are stored, so a rerun reads the
        same sets."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        self.dataset.save(out / "examples.jsonl")
        self.candidates.save(out / "candidates.jsonl")
        write_json_atomic(
            out / "next_item.meta.json",
            {**self.meta, "candidates_fingerprint": self.candidates.fingerprint()},
        )
        return out


def build(ratings: Ratings, **options: Any) -> NextItemSplit:
    """Leave-one-out next-item data with candidate sets (module docstring); ``options`` are the
    fields of :class:`NextItemConfig` (``history=10, stage="test", n_candidates=20, ...``)."""
    try:
        config = NextItemConfig(**options)
    except ValidationError as exc:
        raise ConfigError(f"invalid next-item options: {exc}") from None
    order, starts, lengths = user_runs_in_time_order(ratings, users_by="id")
    back = 1 if config.stage == "test" else 2
    target_at = starts + lengths - back  # position in ``order`` of each user's target
    n_before = target_at - starts
    eligible = np.flatnonzero(n_before >= config.min_history)
    if config.n_users is not None and config.n_users < eligible.size:
        rng = np.random.default_rng([config.seed, 0])
        eligible = np.sort(rng.choice(eligible, size=config.n_users, replace=False))
    users = np.asarray(ratings.user_id, dtype=np.int64)[order[starts[eligible]]]
    movies = np.asarray(ratings.movie_id, dtype=np.int64)[order]  # in history order
    _check_single_ratings(users, movies, starts[eligible], target_at[eligible])
    targets = movies[target_at[eligible]].tolist()
    from_ = np.maximum(starts[eligible], target_at[eligible] - config.history).tolist()
    upto = target_at[eligible].tolist()
    examples = [
        Example(u, tuple(movies[a:b].tolist()), (g,))
        for u, a, b, g in zip(users.tolist(), from_, upto, targets, strict=True)
    ]
    seen = _Seen(movies, users, starts[eligible], target_at[eligible])
    name = f"next_item_{config.stage}"
    meta = {
        "name": name,
        "protocol": "next_item",
        "config": config.model_dump(mode="json"),
        "clock": clock(ratings)[1],
        "ratings_fingerprint": ratings.fingerprint(),
        "n_eligible": int(np.count_nonzero(n_before >= config.min_history)),
    }
    dataset = ProfileDataset(examples, dict(meta))
    sampler = CandidateSampler(
        n_candidates=config.n_candidates, negatives=config.negatives, seed=config.seed
    )
    candidates = sampler.sample(dataset, ratings)
    fitting = ratings.take(_training_rows(order, starts, lengths))
    meta.update(n_users=len(examples), stage=config.stage, n_candidates=config.n_candidates)
    return NextItemSplit(dataset, candidates, fitting, seen, meta)


class _Seen(Mapping[int, tuple[int, ...]]):
    """User id -> the movies rated before the target, oldest first; tuples made on access."""

    def __init__(
        self,
        movies: npt.NDArray[np.int64],
        users: npt.NDArray[np.int64],
        starts: npt.NDArray[np.int64],
        stops: npt.NDArray[np.int64],
    ) -> None:
        self._movies = movies
        self._where = {
            u: (a, b)
            for u, a, b in zip(users.tolist(), starts.tolist(), stops.tolist(), strict=True)
        }

    def __getitem__(self, user: int) -> tuple[int, ...]:
        a, b = self._where[user]
        return tuple(self._movies[a:b].tolist())

    def __iter__(self) -> Iterator[int]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


def _check_single_ratings(
    users: npt.NDArray[np.int64],
    movies: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    targets: npt.NDArray[np.int64],
) -> None:
    """Raise when a target was also rated before it (the same movie twice in one history)."""
    if targets.size == 0:
        return
    lengths = targets - starts
    group = np.repeat(np.arange(targets.size, dtype=np.int64), lengths)
    rows = (
        np.arange(int(lengths.sum()), dtype=np.int64)
        - np.repeat(np.cumsum(lengths) - lengths, lengths)
        + np.repeat(starts, lengths)
    )
    width = int(movies.max()) + 1 if movies.size else 1
    before = group * width + movies[rows]
    wanted = np.arange(targets.size, dtype=np.int64) * width + movies[targets]
    before.sort()
    at = np.minimum(np.searchsorted(before, wanted), max(before.size - 1, 0))
    twice = np.flatnonzero(before[at] == wanted) if before.size else before
    if twice.size:
        i = int(twice[0])
        raise ConfigError(
            f"user {int(users[i])} rated movie {int(movies[targets[i]])} twice; next-item data "
            "needs one rating per (user, movie): keep the latest when loading"
        )


def _training_rows(
    order: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Rows of every user's ratings but the last two in time order (RecBole's training part),
    in table order."""
    rank = np.arange(order.size, dtype=np.int64) - np.repeat(starts, lengths)
    keep = rank < np.repeat(lengths - 2, lengths)
    return np.sort(order[keep])
