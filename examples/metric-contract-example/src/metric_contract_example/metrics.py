"""Ranking metrics written from their textbook definitions, in plain Python.

Conventions (the ones llmrec uses, which the contract checks): a repeated item counts once, at
its first rank; the cut-off ``k`` is the denominator of precision even for a shorter list; AP
is normalised by min(|relevant|, k); the ideal DCG takes min(|relevant|, k) items; a user with
no relevant item scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Mapping, Sequence


def _hit_ranks(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> list[int]:
    """1-based ranks within the top ``k`` holding a relevant item seen there for the first time."""
    seen: set[Hashable] = set()
    ranks = []
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant and item not in seen:
            ranks.append(rank)
        seen.add(item)
    return ranks


def precision_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Relevant items in the top k / k."""
    return len(_hit_ranks(ranked, relevant, k)) / k if relevant else 0.0


def recall_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Relevant items in the top k / |relevant|."""
    n = len(set(relevant))
    return len(_hit_ranks(ranked, relevant, k)) / n if n else 0.0


def f1_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """2 · hits / (k + |relevant|)."""
    n = len(set(relevant))
    return 2 * len(_hit_ranks(ranked, relevant, k)) / (k + n) if n else 0.0


def hit_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """1 if a relevant item is in the top k."""
    return 1.0 if _hit_ranks(ranked, relevant, k) else 0.0


def reciprocal_rank(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """1 / rank of the first relevant item in the top k, 0 if there is none."""
    ranks = _hit_ranks(ranked, relevant, k)
    return 1.0 / ranks[0] if ranks else 0.0


def average_precision(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Σ over hit ranks j of (hits up to j) / j, divided by min(|relevant|, k)."""
    n = len(set(relevant))
    if n == 0:
        return 0.0
    ranks = _hit_ranks(ranked, relevant, k)
    return sum(i / rank for i, rank in enumerate(ranks, start=1)) / min(n, k)


def ndcg_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Binary NDCG@k: Σ 1/log2(rank + 1) over hits, over the same for min(|relevant|, k) hits."""
    n = len(set(relevant))
    if n == 0:
        return 0.0
    dcg = sum(1 / math.log2(rank + 1) for rank in _hit_ranks(ranked, relevant, k))
    idcg = sum(1 / math.log2(rank + 1) for rank in range(1, min(n, k) + 1))
    return dcg / idcg


def graded_ndcg_at_k(ranked: Sequence[Hashable], grades: Mapping[Hashable, int], k: int) -> float:
    """Graded NDCG@k with linear gain: Σ grade/log2(rank + 1), over the ideal order's value."""
    relevant = {item for item, grade in grades.items() if grade > 0}
    dcg = sum(
        grades[ranked[rank - 1]] / math.log2(rank + 1) for rank in _hit_ranks(ranked, relevant, k)
    )
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg else 0.0
