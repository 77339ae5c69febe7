"""llmrec's own vectorised kernels pass ``MetricContract`` (one user at a time through the
``*_batch`` functions, padded-array path), so the contract is run on real metric code here too."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from llmrec.metrics import (
    average_precision_batch,
    f1_at_k_batch,
    hit_at_k_batch,
    ndcg_at_k_batch,
    precision_at_k_batch,
    recall_at_k_batch,
    reciprocal_rank_batch,
)
from llmrec.testing import MetricContract


def _padded(ranked: Sequence[Hashable], relevant: object) -> tuple[np.ndarray, np.ndarray]:
    rel = sorted(relevant)  # type: ignore[call-overload]
    r = np.array([list(ranked) or [-1]], dtype=np.int64)
    t = np.array([rel or [-1]], dtype=np.int64)
    return r, t


def precision(ranked: Sequence[Hashable], relevant: object, k: int) -> float:
    return float(precision_at_k_batch(*_padded(ranked, relevant), k, empty_relevant="zero")[0])


def recall(ranked: Sequence[Hashable], relevant: object, k: int) -> float:
    return float(recall_at_k_batch(*_padded(ranked, relevant), k, empty_relevant="zero")[0])


def f1(ranked: Sequence[Hashable], relevant: object, k: int) -> float:
    return float(f1_at_k_batch(*_padded(ranked, relevant), k, empty_relevant="zero")[0])


def hit(ranked: Sequence[Hashable], relevant: object, k: int) -> float:
    return float(hit_at_k_batch(*_padded(ranked, relevant), k, empty_relevant="zero")[0])


def mrr(ranked: Sequence[Hashable], relevant: object, k: int) -> float:
    return float(reciprocal_rank_batch(*_padded(ranked, relevant), k, empty_relevant="zero")[0])


def ap(ranked: Sequence[Hashable], relevant: object, k: int) -> float:
    r, t = _padded(ranked, relevant)
    return float(average_precision_batch(r, t, k, normalization="relevant")[0])


def ndcg(ranked: Sequence[Hashable], relevant: object, k: int) -> float:
    return float(ndcg_at_k_batch(*_padded(ranked, relevant), k, empty_relevant="skip")[0])


class TestPrecisionKernel(MetricContract):
    metric = "precision@k"
    function = staticmethod(precision)
    empty_relevant = "zero"


class TestRecallKernel(MetricContract):
    metric = "recall@k"
    function = staticmethod(recall)
    empty_relevant = "zero"


class TestF1Kernel(MetricContract):
    metric = "f1@k"
    function = staticmethod(f1)
    empty_relevant = "zero"


class TestHitKernel(MetricContract):
    metric = "hit@k"
    function = staticmethod(hit)
    empty_relevant = "zero"


class TestMRRKernel(MetricContract):
    metric = "mrr@k"
    function = staticmethod(mrr)
    empty_relevant = "zero"


class TestAPKernel(MetricContract):
    metric = "map_relevant@k"
    function = staticmethod(ap)
    empty_relevant = "nan"


class TestNDCGKernel(MetricContract):
    metric = "ndcg@k"
    function = staticmethod(ndcg)
    empty_relevant = "nan"
