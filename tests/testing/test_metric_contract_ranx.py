"""``MetricContract`` run against ranx itself, the ranking evaluator users would otherwise use.

ranx stores a run as a dict item → score, so a repeated item keeps its first score and the items
after it move up: its claims declare ``duplicates = "compacted"``, and its AP is normalised by
``|relevant|``. ranx raises on an empty run, which the wrapper below turns into 0.0; the last
tests check that the contract catches that crash and names the duplicate convention when it is
not declared. ranx compiles its kernels with numba on first use, hence ``slow``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import pytest

from llmrec.testing import MetricContract

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaTypeSafetyWarning"),
]


def _ranx(name: str, *, empty_is_zero: bool = True) -> Callable[..., float]:
    """One-query ``ranx.evaluate`` of ``name`` (``"precision"``, ``"ndcg_burges"``, ...)."""

    def value(ranked: Sequence[Hashable], relevant: Any, k: int) -> float:
        import ranx  # the [dev] extra; imported here so collecting the suite stays quick

        if not ranked and empty_is_zero:
            return 0.0  # ranx raises "max() arg is an empty sequence" on an empty run
        run: dict[str, float] = {}
        for rank, item in enumerate(ranked):
            run.setdefault(str(item), float(len(ranked) - rank))
        grades = relevant if isinstance(relevant, Mapping) else dict.fromkeys(relevant, 1)
        qrels = {str(item): int(grade) for item, grade in grades.items()}
        run_ = ranx.Run({"q": run})
        return float(ranx.evaluate(ranx.Qrels({"q": qrels}), run_, f"{name}@{k}"))

    return value


class _Ranx(MetricContract):
    duplicates = "compacted"
    corpus_size = 100


class TestRanxPrecision(_Ranx):
    metric = "precision@k"
    function = staticmethod(_ranx("precision"))


class TestRanxRecall(_Ranx):
    metric = "recall@k"
    function = staticmethod(_ranx("recall"))


class TestRanxF1(_Ranx):
    metric = "f1@k"
    function = staticmethod(_ranx("f1"))


class TestRanxHit(_Ranx):
    metric = "hit@k"
    function = staticmethod(_ranx("hit_rate"))


class TestRanxNDCG(_Ranx):
    metric = "ndcg@k"
    function = staticmethod(_ranx("ndcg"))


class TestRanxGradedNDCG(_Ranx):
    metric = "ndcg@k"
    relevance = "graded"
    function = staticmethod(_ranx("ndcg"))


class TestRanxNDCGBurges(_Ranx):
    metric = "ndcg@k"
    relevance = "graded"
    gain = "exponential"
    function = staticmethod(_ranx("ndcg_burges"))


class TestRanxAP(_Ranx):
    metric = "map@k"
    normalization = "relevant"
    function = staticmethod(_ranx("map"))


class TestRanxMRRAtK(_Ranx):
    metric = "mrr@k"
    function = staticmethod(_ranx("mrr"))


def test_the_contract_catches_ranx_crashing_on_an_empty_run() -> None:
    class Raw(_Ranx):
        metric = "mrr@k"
        function = staticmethod(_ranx("mrr", empty_is_zero=False))

    with pytest.raises(AssertionError, match=r"(?s)ValueError.*crashes on an empty ranked list"):
        Raw().test_empty_ranking_scores_zero()


@pytest.mark.parametrize("metric", ["precision", "ndcg"])
def test_undeclared_compaction_is_named_in_the_diagnosis(metric: str) -> None:
    class Undeclared(MetricContract):
        function = staticmethod(_ranx(metric))

    Undeclared.metric = f"{metric}@k"
    with pytest.raises(AssertionError, match="follows another convention: compacted duplicates"):
        Undeclared().test_a_repeated_item_counts_once()
