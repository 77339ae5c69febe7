"""Reciprocal rank, with an optional cutoff; its mean over users is MRR.

.. math:: \\mathrm{RR@K} = \\frac{1}{\\mathrm{rank}_1}

where :math:`\\mathrm{rank}_1` is the 1-based rank of the first relevant item, and 0 when no
relevant item is within the cutoff ``K`` (the whole list when ``k=None``). As trec_eval
``recip_rank``, ranx ``mrr@k`` and RecBole ``MRR``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmrec.metrics._batch import FloatArray
from llmrec.metrics._common import EmptyRelevant, Ranked, Relevant, check_optional_k
from llmrec.metrics._define import define_metric
from llmrec.metrics._hits import BatchInput, HitMatrix

__all__ = ["RR", "reciprocal_rank", "reciprocal_rank_batch", "rr_kernel"]


def rr_reference(flags: Sequence[bool], n_relevant: int, k: int) -> float:
    """RR of one user from the hit flags of the top ``k`` ranks."""
    for i, hit in enumerate(flags):
        if hit:
            return 1.0 / (i + 1)
    return 0.0


def rr_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised RR over a hit matrix."""
    top = hm.top(k)
    if top.shape[1] == 0:
        return np.zeros(top.shape[0], dtype=np.float64)
    first = top.argmax(axis=1)
    return np.where(top.any(axis=1), 1.0 / (first + 1.0), 0.0)


RR = define_metric(
    "mrr",
    rr_reference,
    rr_kernel,
    needs_k=False,
    aliases=["rr", "reciprocal_rank"],
    description="1 / rank of the first relevant item (within K when given)",
)


def reciprocal_rank(
    ranked: Ranked,
    relevant: Relevant,
    k: int | None = None,
    *,
    empty_relevant: EmptyRelevant = "skip",
) -> float:
    """RR = 1 / rank of the first relevant item within the top ``k`` (whole list if ``None``).

    Source: Voorhees, "The TREC-8 Question Answering Track Report", TREC 1999.

    >>> reciprocal_rank(["a", "b", "c"], {"c"})
    0.3333333333333333
    >>> reciprocal_rank(["a", "b", "c"], {"c"}, k=2)
    0.0
    """
    return RR.score(ranked, relevant, check_optional_k(k), empty_relevant)


def reciprocal_rank_batch(
    ranked: BatchInput,
    relevant: BatchInput,
    k: int | None = None,
    *,
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    """RR for many users at once (see :func:`reciprocal_rank`)."""
    return RR.score_batch(ranked, relevant, check_optional_k(k), empty_relevant)
