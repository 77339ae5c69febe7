"""Hand-written ranking metrics of an imaginary project, tested with llmrec's MetricContract."""

from metric_contract_example.metrics import (
    average_precision,
    f1_at_k,
    graded_ndcg_at_k,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)

__all__ = [
    "average_precision",
    "f1_at_k",
    "graded_ndcg_at_k",
    "hit_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank",
]
