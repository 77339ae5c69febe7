"""Every metric of the package passes llmrec's MetricContract."""

from __future__ import annotations

from metric_contract_example import (
    average_precision,
    f1_at_k,
    graded_ndcg_at_k,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)

from llmrec.testing import MetricContract


class TestPrecision(MetricContract):
    metric = "precision@k"
    function = staticmethod(precision_at_k)
    empty_relevant = "zero"


class TestRecall(MetricContract):
    metric = "recall@k"
    function = staticmethod(recall_at_k)
    empty_relevant = "zero"


class TestF1(MetricContract):
    metric = "f1@k"
    function = staticmethod(f1_at_k)
    empty_relevant = "zero"


class TestHit(MetricContract):
    metric = "hit@k"
    function = staticmethod(hit_at_k)
    empty_relevant = "zero"


class TestMRR(MetricContract):
    metric = "mrr@k"
    function = staticmethod(reciprocal_rank)
    empty_relevant = "zero"


class TestMAP(MetricContract):
    metric = "map@k"
    normalization = "min"
    function = staticmethod(average_precision)
    empty_relevant = "zero"


class TestNDCG(MetricContract):
    metric = "ndcg@k"
    function = staticmethod(ndcg_at_k)
    empty_relevant = "zero"


class TestGradedNDCG(MetricContract):
    metric = "ndcg@k"
    relevance = "graded"
    gain = "linear"
    function = staticmethod(graded_ndcg_at_k)
    empty_relevant = "zero"
