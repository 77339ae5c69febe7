"""llmrec.metrics: exact ranking metrics, batch evaluation and significance tests.

Pure functions on ranked lists and relevant sets; nothing here knows about recommenders.
Every definition, with its formula and the tools it matches, is in ``docs/metrics.md``.

* one user: :func:`precision_at_k`, :func:`recall_at_k`, :func:`f1_at_k`, :func:`hit_at_k`,
  :func:`reciprocal_rank`, :func:`average_precision`, :func:`ndcg_at_k`;
* many users, vectorised (ragged lists or ``-1``-padded integer arrays): the ``*_batch`` twins;
* :func:`evaluate` → :class:`MetricReport` (means, bootstrap intervals, counts), with metric
  names from a registry (:func:`register_metric`, :func:`available_metrics`);
* :func:`compare` → :class:`Comparison` (paired t, Wilcoxon, randomisation, effect sizes);
  :func:`adjust_pvalues` (Holm, Bonferroni, Benjamini-Hochberg) for a family of such tests;
* pointwise scores: :func:`auc`, :func:`gauc` (per-user mean), :func:`evaluate_auc` (both,
  with bootstrap intervals, as a :class:`MetricReport`), :func:`compare_auc` (two scorings of
  the same rows, paired);
* long tail: every metric as ``FAMILY_tail@K`` with ``evaluate(..., head=...)``;
  :func:`head_share`, :func:`head_items` (see :mod:`llmrec.metrics.tail`);
* beyond accuracy: coverage, popularity, novelty, hallucination / invalid-output / duplicate rates;
* validity: :func:`evaluate_validity` → :class:`ValidityReport` (strict and valid-only metrics
  side by side, validity rate); :func:`summarize_repeats` → :class:`RepeatSummary` (metrics
  over presentation orders, top-1 flip rate).
"""

from __future__ import annotations

from llmrec.metrics._hits import PAD, HitMatrix, build_hit_matrix
from llmrec.metrics.ap import average_precision, average_precision_batch
from llmrec.metrics.auc import auc, compare_auc, evaluate_auc, gauc, per_user_auc
from llmrec.metrics.beyond import (
    catalog_coverage,
    duplicate_rate,
    hallucination_rate,
    invalid_output_rate,
    mean_popularity,
    novelty,
    relative_popularity,
)
from llmrec.metrics.evaluate import DEFAULT_METRICS, evaluate
from llmrec.metrics.f1 import f1_at_k, f1_at_k_batch
from llmrec.metrics.hit import hit_at_k, hit_at_k_batch
from llmrec.metrics.multiple import adjust_pvalues
from llmrec.metrics.ndcg import ndcg_at_k, ndcg_at_k_batch
from llmrec.metrics.precision import precision_at_k, precision_at_k_batch
from llmrec.metrics.recall import recall_at_k, recall_at_k_batch
from llmrec.metrics.registry import MetricSpec, available_metrics, register_metric, resolve_metric
from llmrec.metrics.repeats import RepeatStat, RepeatSummary, summarize_repeats, top1_flip_rate
from llmrec.metrics.report import MetricReport
from llmrec.metrics.rr import reciprocal_rank, reciprocal_rank_batch
from llmrec.metrics.significance import Comparison, MetricComparison, compare
from llmrec.metrics.tail import DEFAULT_HEAD_SIZE, head_items, head_share
from llmrec.metrics.validity import ValidityReport, evaluate_validity, validity_mask

__all__ = [
    "DEFAULT_HEAD_SIZE",
    "DEFAULT_METRICS",
    "PAD",
    "Comparison",
    "HitMatrix",
    "MetricComparison",
    "MetricReport",
    "MetricSpec",
    "RepeatStat",
    "RepeatSummary",
    "ValidityReport",
    "adjust_pvalues",
    "auc",
    "available_metrics",
    "average_precision",
    "average_precision_batch",
    "build_hit_matrix",
    "catalog_coverage",
    "compare",
    "compare_auc",
    "duplicate_rate",
    "evaluate",
    "evaluate_auc",
    "evaluate_validity",
    "f1_at_k",
    "f1_at_k_batch",
    "gauc",
    "hallucination_rate",
    "head_items",
    "head_share",
    "hit_at_k",
    "hit_at_k_batch",
    "invalid_output_rate",
    "mean_popularity",
    "ndcg_at_k",
    "ndcg_at_k_batch",
    "novelty",
    "per_user_auc",
    "precision_at_k",
    "precision_at_k_batch",
    "recall_at_k",
    "recall_at_k_batch",
    "reciprocal_rank",
    "reciprocal_rank_batch",
    "register_metric",
    "relative_popularity",
    "resolve_metric",
    "summarize_repeats",
    "top1_flip_rate",
    "validity_mask",
]
