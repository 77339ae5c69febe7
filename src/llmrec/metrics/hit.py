"""Hit rate at K (HR@K, "hit@K").

.. math:: \\mathrm{Hit@K} = \\mathbb{1}[\\text{some relevant item is in the top } K]

As ranx ``hit_rate@k`` and RecBole ``Hit``; its mean over users is the hit rate.
"""

from __future__ import annotations

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

__all__ = ["hit_at_k", "hit_at_k_batch", "hit_kernel"]


def hit_at_k(
    ranked: Ranked, relevant: Relevant, k: int, *, empty_relevant: EmptyRelevant = "skip"
) -> float:
    """Hit@K = 1 if any of the top ``k`` items is relevant, else 0.

    Source: Deshpande & Karypis, "Item-based top-N recommendation algorithms", TOIS 2004.

    >>> hit_at_k(["a", "b", "c"], {"c"}, 2)
    0.0
    """
    k = check_k(k)  # type: ignore[assignment]
    check_empty_relevant(empty_relevant)
    flags, n_rel = hit_list(ranked, relevant, k)
    if n_rel == 0:
        return empty_value(empty_relevant)
    return 1.0 if any(flags) else 0.0


def hit_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised Hit@K over a hit matrix."""
    return as_float(hm.top(k).any(axis=1))


def hit_at_k_batch(
    ranked: BatchInput,
    relevant: BatchInput,
    k: int,
    *,
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    """Hit@K for many users at once (see :func:`hit_at_k`)."""
    return run_batch(hit_kernel, ranked, relevant, check_k(k), empty_relevant)
