"""Candidate ranking over several presentation orders (position-bias control).

:func:`rank_with_repeats` ranks every user's candidate set once per seeded presentation order
(:meth:`llmrec.truth.CandidateSets.orders`; repeat 0 is the stored order) with
:meth:`~llmrec.recommenders.Recommender.rank_many`, and returns a :class:`RepeatedRanking`
whose plain-data views go straight into :func:`llmrec.metrics.summarize_repeats`::

    runs = rank_with_repeats(model, test, sets, repeats=3, seed=0)
    summary = summarize_repeats(runs.rankings(), runs.truth(), ["hit@1", "ndcg@5"],
                                valid=runs.valid(), orders=runs.orders_by_user())

Score-based backends ignore the order, so their repeats agree; a language model sees a
different prompt (and cache key) per order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmrec.errors import ConfigError
from llmrec.recommenders.base import Recommendation, Recommender

if TYPE_CHECKING:
    from llmrec.truth.candidates import CandidateSets
    from llmrec.truth.dataset import ProfileDataset

__all__ = ["RepeatedRanking", "rank_with_repeats"]


@dataclass(frozen=True)
class RepeatedRanking:
    """Rankings of the same users' candidates in several presentation orders.

    ``recommendations[r][i]`` ranks ``orders[r][user_ids[i]]`` for ``user_ids[i]``.
    """

    user_ids: tuple[int, ...]
    orders: tuple[CandidateSets, ...]
    recommendations: tuple[tuple[Recommendation, ...], ...]

    @property
    def repeats(self) -> int:
        return len(self.orders)

    def rankings(self) -> list[dict[int, tuple[int, ...]]]:
        """Per repeat, user id -> ranked movie ids."""
        return [
            {u: r.movie_ids for u, r in zip(self.user_ids, recs, strict=True)}
            for recs in self.recommendations
        ]

    def valid(self) -> list[set[int]]:
        """Per repeat, the users whose answer is valid (:attr:`Recommendation.valid`)."""
        return [
            {u for u, r in zip(self.user_ids, recs, strict=True) if r.valid}
            for recs in self.recommendations
        ]

    def orders_by_user(self) -> list[dict[int, tuple[int, ...]]]:
        """Per repeat, user id -> candidates in the order they were presented."""
        return [{u: order[u] for u in self.user_ids} for order in self.orders]

    def truth(self) -> dict[int, tuple[int, ...]]:
        """User id -> the positives among the candidates (the same in every repeat)."""
        first = self.orders[0]
        return {u: first.positives(u) for u in self.user_ids}


def rank_with_repeats(
    recommender: Recommender,
    dataset: ProfileDataset | Mapping[int, Sequence[int]],
    candidate_sets: CandidateSets,
    repeats: int = 1,
    *,
    seed: int = 0,
    k: int | None = None,
    progress: bool = False,
) -> RepeatedRanking:
    """Rank each user's candidates in ``repeats`` seeded presentation orders.

    ``dataset`` gives the profiles: a :class:`~llmrec.truth.ProfileDataset` or a mapping user
    id -> profile; every user must have a candidate set. Repeat 0 is the stored order of
    ``candidate_sets``; the others come from ``candidate_sets.orders(repeats, seed)``.
    """
    if isinstance(dataset, Mapping):
        users = [int(u) for u in dataset]
        profiles = [tuple(dataset[u]) for u in dataset]
    else:
        users = list(dataset.user_ids)
        profiles = list(dataset.profiles)
    missing = [u for u in users if u not in candidate_sets]
    if missing:
        raise ConfigError(
            f"{len(missing)} user(s) have no candidate set (first: {missing[0]}); sample the "
            "candidates for the same dataset"
        )
    orders = candidate_sets.orders(repeats, seed)
    recs = []
    for order in orders:
        lists = [order[u] for u in users]
        recs.append(tuple(recommender.rank_many(profiles, lists, k, progress=progress)))
    return RepeatedRanking(tuple(users), tuple(orders), tuple(recs))
