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

``aggregate="borda"`` also merges each user's repeats into one ranking, LLMRank's bootstrapping
(Hou et al., "Large Language Models are Zero-Shot Rankers for Recommender Systems", ECIR 2024,
section 4.2): in a set of ``n`` candidates, the movie an answer ranks at 0-based position ``i``
gets ``n - i`` points, summed over the ``R`` answers; a movie an answer leaves out is pushed
below every movie that answer ranked (LLMRank scores it -10000; here the penalty is ``n·R + 1``
per answer that leaves it out, the same order whenever ``n·R < 10000``). The aggregated list
holds every movie some answer ranked, by score (ties: ascending movie id, which does not depend
on any presentation order), cut at ``k``. An order-free backend gives the same ranking in every
repeat and so keeps it; a backend that follows the presentation order loses its bias as ``R``
grows (the edge of the first-listed candidate of one order shrinks like ``1/√R``).
LLMRank's own script (``model/rank.py``) shuffles the columns of the tiled candidate matrix,
which gives every copy the same order; here every repeat has its own seeded order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from llmrec.errors import ConfigError
from llmrec.recommenders.base import Recommendation, Recommender

if TYPE_CHECKING:
    from llmrec.truth.candidates import CandidateSets
    from llmrec.truth.dataset import ProfileDataset

__all__ = ["RepeatedRanking", "rank_with_repeats"]


@dataclass(frozen=True)
class RepeatedRanking:
    """Rankings of the same users' candidates in several presentation orders.

    ``recommendations[r][i]`` ranks ``orders[r][user_ids[i]]`` for ``user_ids[i]``;
    ``aggregated[i]`` (with ``aggregate="borda"``) merges the repeats of ``user_ids[i]``.
    """

    user_ids: tuple[int, ...]
    orders: tuple[CandidateSets, ...]
    recommendations: tuple[tuple[Recommendation, ...], ...]
    aggregated: tuple[Recommendation, ...] | None = None

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

    def aggregated_rankings(self) -> dict[int, tuple[int, ...]]:
        """User id -> the aggregated ranking (from ``rank_with_repeats(..., aggregate=...)``)."""
        if self.aggregated is None:
            raise ConfigError(
                "no aggregated rankings: call rank_with_repeats(..., aggregate='borda')"
            )
        return {u: r.movie_ids for u, r in zip(self.user_ids, self.aggregated, strict=True)}

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
    aggregate: Literal["borda"] | None = None,
    progress: bool = False,
) -> RepeatedRanking:
    """Rank each user's candidates in ``repeats`` seeded presentation orders.

    ``dataset`` gives the profiles: a :class:`~llmrec.truth.ProfileDataset` or a mapping user
    id -> profile; every user must have a candidate set. Repeat 0 is the stored order of
    ``candidate_sets``; the others come from ``candidate_sets.orders(repeats, seed)``.
    ``aggregate="borda"`` also fills :attr:`RepeatedRanking.aggregated` (module docstring).
    """
    if aggregate not in (None, "borda"):
        raise ConfigError(f"aggregate must be None or 'borda', got {aggregate!r}")
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
    merged = None
    if aggregate == "borda":
        merged = tuple(
            borda([rep[i] for rep in recs], len(candidate_sets[u]), k) for i, u in enumerate(users)
        )
    return RepeatedRanking(tuple(users), tuple(orders), tuple(recs), merged)


def borda(answers: Sequence[Recommendation], n: int, k: int | None = None) -> Recommendation:
    """Borda aggregation of one user's answers over a set of ``n`` candidates (module
    docstring): scores are the summed points, less ``n·R + 1`` per answer that left the movie
    out; ties go to the smaller movie id; at most ``k`` movies (``None``: all ranked)."""
    penalty = n * len(answers) + 1
    points: dict[int, int] = {}
    seen: dict[int, int] = {}
    for answer in answers:
        for i, m in enumerate(answer.movie_ids):
            points[m] = points.get(m, 0) + n - i
            seen[m] = seen.get(m, 0) + 1
    score = {m: points[m] - penalty * (len(answers) - seen[m]) for m in points}
    ranked = sorted(score, key=lambda m: (-score[m], m))[: len(score) if k is None else k]
    usage: dict[str, int] = {}
    for answer in answers:
        for key, value in answer.usage.items():
            usage[key] = usage.get(key, 0) + value
    costs = [a.cost_usd for a in answers if a.cost_usd is not None]
    return Recommendation(
        tuple(ranked),
        tuple(float(score[m]) for m in ranked),
        diagnostics={
            "aggregate": "borda",
            "repeats": len(answers),
            "valid_repeats": sum(a.valid for a in answers),
        },
        usage=usage,
        cost_usd=sum(costs) if costs else None,
        cached=all(a.cached for a in answers),
    )
