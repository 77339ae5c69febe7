"""Classic metric bugs, each in an otherwise correct function, under ``MetricContract``.

Not collected by llmrec's suite (the name does not start with ``test_``):
``test_metric_contract.py`` runs pytest on this file in a subprocess and checks that every
``TestBug*`` class fails with a counterexample naming its bug, and ``TestCorrect*`` passes.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Sequence

from llmrec.testing import MetricContract

Ranked = Sequence[Hashable]
Relevant = Collection[Hashable]


def _hits(ranked: Ranked, relevant: Relevant, cut: int, once: bool = True) -> list[int]:
    seen: set[Hashable] = set()
    ranks = []
    for rank, item in enumerate(ranked[:cut], start=1):
        if item in relevant and (not once or item not in seen):
            ranks.append(rank)
        seen.add(item)
    return ranks


def precision(ranked: Ranked, relevant: Relevant, k: int) -> float:
    return len(_hits(ranked, relevant, k)) / k


def precision_by_length(ranked: Ranked, relevant: Relevant, k: int) -> float:
    # bug: divides by the number of items recommended when fewer than k were
    return len(_hits(ranked, relevant, k)) / max(1, len(ranked[:k]))


def precision_off_by_one(ranked: Ranked, relevant: Relevant, k: int) -> float:
    # bug: the slice keeps k + 1 items
    return len(_hits(ranked, relevant, k + 1)) / k


def precision_duplicates(ranked: Ranked, relevant: Relevant, k: int) -> float:
    # bug: a repeated relevant item is counted at every rank
    return len(_hits(ranked, relevant, k, once=False)) / k


def ap(ranked: Ranked, relevant: Relevant, k: int) -> float:
    ranks = _hits(ranked, relevant, k)
    return sum(i / r for i, r in enumerate(ranks, 1)) / min(len(relevant), k)


def ap_by_relevant(ranked: Ranked, relevant: Relevant, k: int) -> float:
    # bug (for a function documented as min(|R|, k)): normalised by |R|
    ranks = _hits(ranked, relevant, k)
    return sum(i / r for i, r in enumerate(ranks, 1)) / len(relevant)


def ndcg(ranked: Ranked, relevant: Relevant, k: int) -> float:
    dcg = sum(1 / math.log2(r + 1) for r in _hits(ranked, relevant, k))
    return dcg / sum(1 / math.log2(r + 1) for r in range(1, min(len(relevant), k) + 1))


def ndcg_ideal_over_all(ranked: Ranked, relevant: Relevant, k: int) -> float:
    # bug: the ideal DCG sums over every relevant item, not the first k
    dcg = sum(1 / math.log2(r + 1) for r in _hits(ranked, relevant, k))
    return dcg / sum(1 / math.log2(r + 1) for r in range(1, len(relevant) + 1))


def mrr_crashing(ranked: Ranked, relevant: Relevant, k: int) -> float:
    # bug: crashes on an empty list (``ranked[0]`` is read before looking for hits)
    if ranked[0] in relevant:
        return 1.0
    ranks = _hits(ranked, relevant, k)
    return 1 / ranks[0] if ranks else 0.0


class TestCorrectPrecision(MetricContract):
    metric = "precision@k"
    function = staticmethod(precision)


class TestCorrectAP(MetricContract):
    metric = "map@k"
    function = staticmethod(ap)


class TestCorrectAPRelevant(MetricContract):
    # the same |R| normalisation passes when it is the declared one
    metric = "map@k"
    normalization = "relevant"
    function = staticmethod(ap_by_relevant)


class TestCorrectNDCG(MetricContract):
    metric = "ndcg@k"
    function = staticmethod(ndcg)


class TestBugLength(MetricContract):
    metric = "precision@k"
    function = staticmethod(precision_by_length)


class TestBugAPNormalisation(MetricContract):
    metric = "map@k"
    function = staticmethod(ap_by_relevant)


class TestBugIdealDCG(MetricContract):
    metric = "ndcg@k"
    function = staticmethod(ndcg_ideal_over_all)


class TestBugOffByOne(MetricContract):
    metric = "precision@k"
    function = staticmethod(precision_off_by_one)


class TestBugDuplicates(MetricContract):
    metric = "precision@k"
    function = staticmethod(precision_duplicates)


class TestBugEmptyList(MetricContract):
    metric = "mrr@k"
    function = staticmethod(mrr_crashing)
