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

from functools import lru_cache

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

__all__ = ["ndcg_at_k", "ndcg_at_k_batch", "ndcg_kernel"]


@lru_cache(maxsize=64)
def _discounts(width: int) -> FloatArray:
    d = 1.0 / np.log2(np.arange(2, width + 2, dtype=np.float64))
    d.setflags(write=False)
    return d


def ndcg_at_k(
    ranked: Ranked, relevant: Relevant, k: int, *, empty_relevant: EmptyRelevant = "skip"
) -> float:
    """NDCG@K = DCG@K / IDCG@K with gains 1/log2(rank + 1) and an ideal list of
    min(|relevant|, K) hits.

    Source: Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
    TOIS 20(4), 2002.

    >>> round(ndcg_at_k(["x", "a"], {"a"}, 2), 6)  # (1/log2 3) / 1
    0.63093
    """
    k = check_k(k)  # type: ignore[assignment]
    check_empty_relevant(empty_relevant)
    flags, n_rel = hit_list(ranked, relevant, k)
    if n_rel == 0:
        return empty_value(empty_relevant)
    dcg = sum(1.0 / np.log2(j + 1) for j, hit in enumerate(flags, start=1) if hit)
    idcg = sum(1.0 / np.log2(j + 1) for j in range(1, min(n_rel, k) + 1))
    return float(dcg / idcg)


def ndcg_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised NDCG@K over a hit matrix (users without relevant ids get 0 here)."""
    top = hm.top(k)
    kk = top.shape[1] if k is None else k
    n = top.shape[0]
    if top.shape[1] == 0 or kk == 0:
        return np.zeros(n, dtype=np.float64)
    disc = _discounts(kk)
    dcg = top.astype(np.float64) @ disc[: top.shape[1]]
    ideal = np.concatenate([[0.0], np.cumsum(disc)])
    idcg = ideal[np.minimum(hm.n_relevant, kk)]
    return as_float(np.divide(dcg, idcg, out=np.zeros(n, dtype=np.float64), where=idcg > 0))


def ndcg_at_k_batch(
    ranked: BatchInput,
    relevant: BatchInput,
    k: int,
    *,
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    """NDCG@K for many users at once (see :func:`ndcg_at_k`)."""
    return run_batch(ndcg_kernel, ranked, relevant, check_k(k), empty_relevant)
