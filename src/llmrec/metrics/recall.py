"""Recall at K.

.. math:: \\mathrm{R@K} = \\frac{|\\{\\text{relevant items in the top } K\\}|}{|\\text{relevant}|}

As in trec_eval ``recall_k``, ranx ``recall@k`` and RecBole ``Recall``. When
``|relevant| > K`` the maximum is ``K / |relevant|``, not 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmrec.metrics._batch import FloatArray, as_float
from llmrec.metrics._define import define_metric
from llmrec.metrics._hits import HitMatrix

__all__ = ["RECALL", "recall_at_k", "recall_at_k_batch", "recall_kernel"]


def recall_reference(flags: Sequence[bool], n_relevant: int, k: int) -> float:
    """R@K of one user from the hit flags of the top ``k`` ranks."""
    return sum(flags) / n_relevant


def recall_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised R@K over a hit matrix (users without relevant ids get 0 here)."""
    hits = hm.top(k).sum(axis=1, dtype=np.float64)
    return as_float(
        np.divide(hits, hm.n_relevant, out=np.zeros_like(hits), where=hm.n_relevant > 0)
    )


RECALL = define_metric(
    "recall",
    recall_reference,
    recall_kernel,
    aliases=["r", "rec"],
    description="hits in the top K / |relevant|",
)

recall_at_k = RECALL.scalar_function(
    "recall_at_k",
    """R@K = hits in the top ``k`` / |relevant|.

    Repeats count once; an empty ranked list scores 0; an empty relevant set follows
    ``empty_relevant``. Source: Manning et al., *Introduction to Information Retrieval*, §8.3.

    >>> recall_at_k(["a", "b", "c"], {"a", "c", "z", "y"}, 3)
    0.5
    """,
    __name__,
)

recall_at_k_batch = RECALL.batch_function(
    "recall_at_k_batch",
    """R@K for many users at once: one float per user (see :func:`recall_at_k`).""",
    __name__,
)

__test__ = {"recall_at_k": recall_at_k.__doc__}
