"""The worked examples in the docstrings run, and the public namespace is as documented."""

from __future__ import annotations

import doctest
import importlib

import pytest

import llmrec.metrics

MODULES = ["precision", "recall", "f1", "hit", "rr", "ap", "ndcg", "evaluate", "tail"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"llmrec.metrics.{name}")
    result = doctest.testmod(module, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_names_are_unique_and_importable() -> None:
    names = llmrec.metrics.__all__
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(llmrec.metrics, name) is not None
    for promised in (
        "precision_at_k",
        "recall_at_k",
        "f1_at_k",
        "hit_at_k",
        "reciprocal_rank",
        "average_precision",
        "ndcg_at_k",
        "evaluate",
        "MetricReport",
        "compare",
        "Comparison",
        "register_metric",
        "available_metrics",
    ):
        assert promised in names
