"""Average precision at K; its mean over users is MAP@K.

.. math:: \\mathrm{AP@K} = \\frac{1}{N} \\sum_{j=1}^{K} \\mathrm{P@}j \\cdot \\mathrm{rel}_j

where :math:`\\mathrm{rel}_j` is 1 when the item at rank ``j`` is a (first-occurrence) hit. The
normalisation ``N`` is the caller's choice, because the established tools disagree:

* ``"min"`` (default): :math:`N = \\min(|\\text{relevant}|, K)`: the recommender-systems
  convention of RecBole ``MAP``, Spark ``RankingMetrics.meanAveragePrecisionAt`` and Microsoft
  Recommenders ``map_at_k``; the study's MAP is consistent with it. A perfect top K scores 1.
* ``"relevant"``: :math:`N = |\\text{relevant}|`: trec_eval ``map_cut_k`` and ranx ``map@k``.
* ``"hits"``: :math:`N` = number of hits in the top K (0 when there are none): the mean
  precision at the relevant ranks that were retrieved.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal, TypeAlias

import numpy as np

from llmrec.errors import ConfigError
from llmrec.metrics._batch import FloatArray, as_float
from llmrec.metrics._common import (
    EmptyRelevant,
    Ranked,
    Relevant,
    check_empty_relevant,
    check_k,
)
from llmrec.metrics._define import MetricDefinition, define_metric
from llmrec.metrics._hits import BatchInput, HitMatrix

__all__ = [
    "AP",
    "APNormalization",
    "ap_kernel",
    "ap_reference",
    "average_precision",
    "average_precision_batch",
    "check_normalization",
]

APNormalization: TypeAlias = Literal["min", "relevant", "hits"]
_CHOICES = ("min", "relevant", "hits")
_NAMES: dict[str, APNormalization] = {"min": "min", "relevant": "relevant", "hits": "hits"}


def check_normalization(value: object) -> APNormalization:
    """Validate an AP normalisation name."""
    if isinstance(value, str) and value in _NAMES:
        return _NAMES[value]
    raise ConfigError(f"normalization must be one of {_CHOICES} (got {value!r})")


def ap_reference(
    flags: Sequence[bool], n_relevant: int, k: int, normalization: APNormalization = "min"
) -> float:
    """AP@K of one user from the hit flags of the top ``k`` ranks."""
    total = 0.0
    hits = 0
    for j, hit in enumerate(flags, start=1):
        if hit:
            hits += 1
            total += hits / j
    if normalization == "min":
        norm = min(n_relevant, k)
    elif normalization == "relevant":
        norm = n_relevant
    else:
        norm = hits
    return 0.0 if norm == 0 else total / norm


def ap_kernel(hm: HitMatrix, k: int | None, normalization: APNormalization = "min") -> FloatArray:
    """Vectorised AP@K over a hit matrix."""
    top = hm.top(k)
    kk = top.shape[1] if k is None else k
    if top.shape[1] == 0:
        return np.zeros(top.shape[0], dtype=np.float64)
    ranks = np.arange(1, top.shape[1] + 1, dtype=np.float64)
    cum = np.cumsum(top, axis=1, dtype=np.float64)
    total = (np.where(top, cum, 0.0) / ranks).sum(axis=1)
    if normalization == "min":
        norm = np.minimum(hm.n_relevant, kk).astype(np.float64)
    elif normalization == "relevant":
        norm = hm.n_relevant.astype(np.float64)
    else:
        norm = cum[:, -1]
    return as_float(np.divide(total, norm, out=np.zeros_like(total), where=norm > 0))


def _define(norm: APNormalization, aliases: list[str], text: str) -> MetricDefinition:
    return define_metric(
        "map" if norm == "min" else f"map_{norm}",
        partial(ap_reference, normalization=norm),
        partial(ap_kernel, normalization=norm),
        aliases=aliases,
        description=text,
    )


AP: dict[APNormalization, MetricDefinition] = {
    "min": _define("min", ["ap", "map_min"], "AP@K normalised by min(|relevant|, K)"),
    "relevant": _define(
        "relevant", ["ap_relevant"], "AP@K normalised by |relevant| (trec_eval, ranx)"
    ),
    "hits": _define("hits", ["ap_hits"], "AP@K normalised by the number of hits"),
}
"""The three registered AP definitions (``map@K``, ``map_relevant@K``, ``map_hits@K``)."""


def average_precision(
    ranked: Ranked,
    relevant: Relevant,
    k: int,
    *,
    normalization: APNormalization = "min",
    empty_relevant: EmptyRelevant = "skip",
) -> float:
    """AP@K = Σ over hit ranks j ≤ K of P@j, divided by the chosen normalisation.

    Source: Buckley & Voorhees, "Evaluating evaluation measure stability", SIGIR 2000 (AP);
    the ``"min"`` normalisation follows RecBole and Spark MLlib.

    >>> average_precision(["a", "x", "b"], {"a", "b"}, 3)  # (1/1 + 2/3) / 2
    0.8333333333333333
    >>> average_precision(["a", "x", "b"], {"a", "b", "c"}, 3, normalization="relevant")
    0.5555555555555555
    """
    kk = check_k(k)
    check_empty_relevant(empty_relevant)
    return AP[check_normalization(normalization)].score(ranked, relevant, kk, empty_relevant)


def average_precision_batch(
    ranked: BatchInput,
    relevant: BatchInput,
    k: int,
    *,
    normalization: APNormalization = "min",
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    """AP@K for many users at once (see :func:`average_precision`)."""
    kk = check_k(k)
    norm = check_normalization(normalization)
    check_empty_relevant(empty_relevant)
    return AP[norm].score_batch(ranked, relevant, kk, empty_relevant)
