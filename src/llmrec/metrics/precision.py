"""Precision at K.

.. math:: \\mathrm{P@K} = \\frac{|\\{\\text{relevant items in the top } K\\}|}{K}

The denominator is ``K`` even when the list holds fewer than ``K`` items, as in trec_eval's
``P_k``, ranx ``precision@k``, RecBole and Microsoft Recommenders (``precision_at_k``): a short
list is penalised for the slots it left empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmrec.metrics._batch import FloatArray, as_float
from llmrec.metrics._define import define_metric
from llmrec.metrics._hits import HitMatrix

__all__ = ["PRECISION", "precision_at_k", "precision_at_k_batch", "precision_kernel"]


def precision_reference(flags: Sequence[bool], n_relevant: int, k: int) -> float:
    """P@K of one user from the hit flags of the top ``k`` ranks."""
    return sum(flags) / k


def precision_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised P@K over a hit matrix (``k=None`` divides by the matrix width)."""
    kk = hm.width if k is None else k
    return as_float(hm.top(k).sum(axis=1, dtype=np.float64) / max(kk, 1))


PRECISION = define_metric(
    "precision",
    precision_reference,
    precision_kernel,
    aliases=["p", "prec"],
    description="hits in the top K / K",
)

precision_at_k = PRECISION.scalar_function(
    "precision_at_k",
    """P@K = hits in the top ``k`` / ``k`` (``k`` even when the list is shorter).

    A repeated item counts once, at its first position. An empty ranked list scores 0. An empty
    relevant set gives ``nan`` (``"skip"``), 0 (``"zero"``) or raises (``"raise"``).
    Source: Manning, Raghavan & Schütze, *Introduction to Information Retrieval* (2008), §8.4.

    >>> precision_at_k(["a", "b", "c"], {"a", "c", "z"}, 2)
    0.5
    """,
    __name__,
)

precision_at_k_batch = PRECISION.batch_function(
    "precision_at_k_batch",
    """P@K for many users at once: one float per user (see :func:`precision_at_k`).""",
    __name__,
)

__test__ = {"precision_at_k": precision_at_k.__doc__}
