"""F1 at K, per user.

.. math:: \\mathrm{F1@K} = \\frac{2\\,\\mathrm{P@K}\\,\\mathrm{R@K}}{\\mathrm{P@K} + \\mathrm{R@K}}
          = \\frac{2\\,\\mathrm{hits}}{K + |\\text{relevant}|}

and 0 when both are 0. The mean over users is the mean of these per-user values (as ranx
``f1@k``), not the F1 of the mean precision and mean recall; the study's reported numbers are
consistent with the former.
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

__all__ = ["f1_at_k", "f1_at_k_batch", "f1_kernel"]


def f1_at_k(
    ranked: Ranked, relevant: Relevant, k: int, *, empty_relevant: EmptyRelevant = "skip"
) -> float:
    """F1@K = 2·P@K·R@K / (P@K + R@K), 0 when P@K = R@K = 0.

    Source: van Rijsbergen, *Information Retrieval* (1979), ch. 7 (the F measure, β = 1).

    >>> f1_at_k(["a", "b"], {"a", "z"}, 2)
    0.5
    """
    k = check_k(k)  # type: ignore[assignment]
    check_empty_relevant(empty_relevant)
    flags, n_rel = hit_list(ranked, relevant, k)
    if n_rel == 0:
        return empty_value(empty_relevant)
    p = sum(flags) / k
    r = sum(flags) / n_rel
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def f1_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised per-user F1@K over a hit matrix."""
    kk = hm.width if k is None else k
    hits = hm.top(k).sum(axis=1, dtype=np.float64)
    p = hits / max(kk, 1)
    r = np.divide(hits, hm.n_relevant, out=np.zeros_like(hits), where=hm.n_relevant > 0)
    s = p + r
    return as_float(np.divide(2 * p * r, s, out=np.zeros_like(s), where=s > 0))


def f1_at_k_batch(
    ranked: BatchInput,
    relevant: BatchInput,
    k: int,
    *,
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    """Per-user F1@K for many users at once (see :func:`f1_at_k`)."""
    return run_batch(f1_kernel, ranked, relevant, check_k(k), empty_relevant)
