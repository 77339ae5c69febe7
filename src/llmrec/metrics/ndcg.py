"""Normalised discounted cumulative gain at K, with binary relevance.

.. math::

   \\mathrm{DCG@K} = \\sum_{j=1}^{K} \\frac{\\mathrm{rel}_j}{\\log_2(j + 1)}, \\qquad
   \\mathrm{IDCG@K} = \\sum_{j=1}^{\\min(|\\text{relevant}|, K)} \\frac{1}{\\log_2(j + 1)}, \\qquad
   \\mathrm{NDCG@K} = \\frac{\\mathrm{DCG@K}}{\\mathrm{IDCG@K}}

:math:`\\mathrm{rel}_j` is 1 for a first-occurrence hit at rank ``j``, else 0. With binary
relevance the Järvelin–Kekäläinen gain (trec_eval ``ndcg_cut_k``, ranx ``ndcg@k``) and the
Burges gain :math:`2^{rel} - 1` (RecBole, Microsoft Recommenders) coincide.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from llmrec.metrics._batch import FloatArray, as_float
from llmrec.metrics._define import define_metric
from llmrec.metrics._hits import HitMatrix

__all__ = ["NDCG", "ndcg_at_k", "ndcg_at_k_batch", "ndcg_kernel"]


@lru_cache(maxsize=64)
def _discounts(width: int) -> FloatArray:
    d = 1.0 / np.log2(np.arange(2, width + 2, dtype=np.float64))
    d.setflags(write=False)
    return d


def ndcg_reference(flags: Sequence[bool], n_relevant: int, k: int) -> float:
    """NDCG@K of one user from the hit flags of the top ``k`` ranks."""
    dcg = sum(1.0 / np.log2(j + 1) for j, hit in enumerate(flags, start=1) if hit)
    idcg = sum(1.0 / np.log2(j + 1) for j in range(1, min(n_relevant, k) + 1))
    return float(dcg / idcg)


def ndcg_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised NDCG@K over a hit matrix (users without relevant ids get 0 here).

    DCG is summed rank by rank, in a fixed order and without a BLAS product, so the result
    does not depend on the BLAS kernel or on how users are batched.
    """
    top = hm.top(k)
    kk = top.shape[1] if k is None else k
    n = top.shape[0]
    if top.shape[1] == 0 or kk == 0:
        return np.zeros(n, dtype=np.float64)
    disc = _discounts(kk)
    dcg = np.zeros(n, dtype=np.float64)
    for j in range(top.shape[1]):
        dcg += np.where(top[:, j], disc[j], 0.0)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])
    idcg = ideal[np.minimum(hm.n_relevant, kk)]
    return as_float(np.divide(dcg, idcg, out=np.zeros(n, dtype=np.float64), where=idcg > 0))


NDCG = define_metric(
    "ndcg",
    ndcg_reference,
    ndcg_kernel,
    description="binary-relevance NDCG@K with ideal min(|relevant|, K) hits",
)

ndcg_at_k = NDCG.scalar_function(
    "ndcg_at_k",
    """NDCG@K = DCG@K / IDCG@K with gains 1/log2(rank + 1) and an ideal list of
    min(|relevant|, K) hits.

    Source: Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
    TOIS 20(4), 2002.

    >>> round(ndcg_at_k(["x", "a"], {"a"}, 2), 6)  # (1/log2 3) / 1
    0.63093
    """,
    __name__,
)

ndcg_at_k_batch = NDCG.batch_function(
    "ndcg_at_k_batch",
    """NDCG@K for many users at once (see :func:`ndcg_at_k`).""",
    __name__,
)

__test__ = {"ndcg_at_k": ndcg_at_k.__doc__}
