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
    seen: dict[int, tuple[int, ...]]
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
    users = np.asarray(ratings.user_id, dtype=np.int64)
    movies = np.asarray(ratings.movie_id, dtype=np.int64)
    if config.n_users is not None and config.n_users < eligible.size:
        rng = np.random.default_rng([config.seed, 0])
        eligible = np.sort(rng.choice(eligible, size=config.n_users, replace=False))
    examples = []
    seen: dict[int, tuple[int, ...]] = {}
    for g in eligible.tolist():
        s, t = int(starts[g]), int(target_at[g])
        user = int(users[order[s]])
        before = movies[order[s:t]]
        target = int(movies[order[t]])
        if target in set(before.tolist()):
            raise ConfigError(
                f"user {user} rated movie {target} twice; next-item data needs one rating per "
                "(user, movie): keep the latest when loading"
            )
        profile = tuple(int(m) for m in before[max(0, before.size - config.history) :])
        examples.append(Example(user, profile, (target,)))
        seen[user] = tuple(int(m) for m in before)
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


def _training_rows(
    order: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Rows of every user's ratings but the last two in time order (RecBole's training part),
    in table order."""
    rank = np.arange(order.size, dtype=np.int64) - np.repeat(starts, lengths)
    keep = rank < np.repeat(lengths - 2, lengths)
    return np.sort(order[keep])
