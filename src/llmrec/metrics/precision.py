"""Precision at K.

.. math:: \\mathrm{P@K} = \\frac{|\\{\\text{relevant items in the top } K\\}|}{K}

The denominator is ``K`` even when the list holds fewer than ``K`` items, as in trec_eval's
``P_k``, ranx ``precision@k``, RecBole and Microsoft Recommenders (``precision_at_k``): a short
list is penalised for the slots it left empty.
"""

from __future__ import annotations

import numpy as np

from llmrec.metrics._batch import FloatArray, as_float, run_batch
from llmrec.metrics._common import (
    EmptyRelevant,
    Ranked,
    Relevant,
    check_empty_relevant,
    check_k,
    empty_value,
    hit_list,
)
from llmrec.metrics._hits import BatchInput, HitMatrix

__all__ = ["precision_at_k", "precision_at_k_batch", "precision_kernel"]


def precision_at_k(
    ranked: Ranked, relevant: Relevant, k: int, *, empty_relevant: EmptyRelevant = "skip"
) -> float:
    """P@K = hits in the top ``k`` / ``k`` (``k`` even when the list is shorter).

    A repeated item counts once, at its first position. An empty ranked list scores 0. An empty
    relevant set gives ``nan`` (``"skip"``), 0 (``"zero"``) or raises (``"raise"``).
    Source: Manning, Raghavan & Schütze, *Introduction to Information Retrieval* (2008), §8.4.

    >>> precision_at_k(["a", "b", "c"], {"a", "c", "z"}, 2)
    0.5
    """
    k = check_k(k)  # type: ignore[assignment]
    check_empty_relevant(empty_relevant)
    flags, n_rel = hit_list(ranked, relevant, k)
    if n_rel == 0:
        return empty_value(empty_relevant)
    return sum(flags) / k


def precision_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised P@K over a hit matrix (``k=None`` divides by the matrix width)."""
    kk = hm.width if k is None else k
    return as_float(hm.top(k).sum(axis=1, dtype=np.float64) / max(kk, 1))


def precision_at_k_batch(
    ranked: BatchInput,
    relevant: BatchInput,
    k: int,
    *,
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    """P@K for many users at once: one float per user (see :func:`precision_at_k`)."""
    return run_batch(precision_kernel, ranked, relevant, check_k(k), empty_relevant)
