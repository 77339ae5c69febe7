"""Hit rate at K (HR@K, "hit@K").

.. math:: \\mathrm{Hit@K} = \\mathbb{1}[\\text{some relevant item is in the top } K]

As ranx ``hit_rate@k`` and RecBole ``Hit``; its mean over users is the hit rate.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmrec.metrics._batch import FloatArray, as_float
from llmrec.metrics._define import define_metric
from llmrec.metrics._hits import HitMatrix

__all__ = ["HIT", "hit_at_k", "hit_at_k_batch", "hit_kernel"]


def hit_reference(flags: Sequence[bool], n_relevant: int, k: int) -> float:
    """Hit@K of one user from the hit flags of the top ``k`` ranks."""
    return 1.0 if any(flags) else 0.0


def hit_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised Hit@K over a hit matrix."""
    return as_float(hm.top(k).any(axis=1))


HIT = define_metric(
    "hit",
    hit_reference,
    hit_kernel,
    aliases=["hr", "hit_rate", "hitrate"],
    description="1 if any relevant item is in the top K",
)

hit_at_k = HIT.scalar_function(
    "hit_at_k",
    """Hit@K = 1 if any of the top ``k`` items is relevant, else 0.

    Source: Deshpande & Karypis, "Item-based top-N recommendation algorithms", TOIS 2004.

    >>> hit_at_k(["a", "b", "c"], {"c"}, 2)
    0.0
    """,
    __name__,
)

hit_at_k_batch = HIT.batch_function(
    "hit_at_k_batch",
    """Hit@K for many users at once (see :func:`hit_at_k`).""",
    __name__,
)

__test__ = {"hit_at_k": hit_at_k.__doc__}
