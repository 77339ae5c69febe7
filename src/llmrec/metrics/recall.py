"""Recall at K.

.. math:: \\mathrm{R@K} = \\frac{|\\{\\text{relevant items in the top } K\\}|}{|\\text{relevant}|}

As in trec_eval ``recall_k``, ranx ``recall@k`` and RecBole ``Recall``. When
``|relevant| > K`` the maximum is ``K / |relevant|``, not 1.
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

__all__ = ["recall_at_k", "recall_at_k_batch", "recall_kernel"]


def recall_at_k(
    ranked: Ranked, relevant: Relevant, k: int, *, empty_relevant: EmptyRelevant = "skip"
) -> float:
    """R@K = hits in the top ``k`` / |relevant|.

    Repeats count once; an empty ranked list scores 0; an empty relevant set follows
    ``empty_relevant``. Source: Manning et al., *Introduction to Information Retrieval*, §8.3.

    >>> recall_at_k(["a", "b", "c"], {"a", "c", "z", "y"}, 3)
    0.5
    """
    k = check_k(k)  # type: ignore[assignment]
    check_empty_relevant(empty_relevant)
    flags, n_rel = hit_list(ranked, relevant, k)
    if n_rel == 0:
        return empty_value(empty_relevant)
    return sum(flags) / n_rel


def recall_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised R@K over a hit matrix (users without relevant ids get 0 here)."""
    hits = hm.top(k).sum(axis=1, dtype=np.float64)
    return as_float(
        np.divide(hits, hm.n_relevant, out=np.zeros_like(hits), where=hm.n_relevant > 0)
    )


def recall_at_k_batch(
    ranked: BatchInput,
    relevant: BatchInput,
    k: int,
    *,
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    """R@K for many users at once: one float per user (see :func:`recall_at_k`)."""
    return run_batch(recall_kernel, ranked, relevant, check_k(k), empty_relevant)
