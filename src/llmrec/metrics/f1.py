"""F1 at K, per user.

.. math:: \\mathrm{F1@K} = \\frac{2\\,\\mathrm{P@K}\\,\\mathrm{R@K}}{\\mathrm{P@K} + \\mathrm{R@K}}
          = \\frac{2\\,\\mathrm{hits}}{K + |\\text{relevant}|}

and 0 when both are 0. The mean over users is the mean of these per-user values (as ranx
``f1@k``), not the F1 of the mean precision and mean recall; the study's reported numbers are
consistent with the former.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmrec.metrics._batch import FloatArray, as_float
from llmrec.metrics._define import define_metric
from llmrec.metrics._hits import HitMatrix

__all__ = ["F1", "f1_at_k", "f1_at_k_batch", "f1_kernel"]


def f1_reference(flags: Sequence[bool], n_relevant: int, k: int) -> float:
    """F1@K of one user from the hit flags of the top ``k`` ranks."""
    p = sum(flags) / k
    r = sum(flags) / n_relevant
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def f1_kernel(hm: HitMatrix, k: int | None) -> FloatArray:
    """Vectorised per-user F1@K over a hit matrix."""
    kk = hm.width if k is None else k
    hits = hm.top(k).sum(axis=1, dtype=np.float64)
    p = hits / max(kk, 1)
    r = np.divide(hits, hm.n_relevant, out=np.zeros_like(hits), where=hm.n_relevant > 0)
    s = p + r
    return as_float(np.divide(2 * p * r, s, out=np.zeros_like(s), where=s > 0))


F1 = define_metric(
    "f1", f1_reference, f1_kernel, description="per-user harmonic mean of P@K and R@K"
)

f1_at_k = F1.scalar_function(
    "f1_at_k",
    """F1@K = 2·P@K·R@K / (P@K + R@K), 0 when P@K = R@K = 0.

    Source: van Rijsbergen, *Information Retrieval* (1979), ch. 7 (the F measure, β = 1).

    >>> f1_at_k(["a", "b"], {"a", "z"}, 2)
    0.5
    """,
    __name__,
)

f1_at_k_batch = F1.batch_function(
    "f1_at_k_batch",
    """Per-user F1@K for many users at once (see :func:`f1_at_k`).""",
    __name__,
)

__test__ = {"f1_at_k": f1_at_k.__doc__}
