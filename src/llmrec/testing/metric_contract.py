"""``MetricContract``: property tests a project runs on its own ranking-metric code.

Subclass it in a pytest module, say which metric the function claims to compute, and give the
function as a ``staticmethod``::

    from llmrec.testing import MetricContract

    class TestMyPrecision(MetricContract):
        metric = "precision@k"
        function = staticmethod(my_precision)   # f(ranked, relevant, k) -> float
        empty_relevant = "zero"                 # optional: "zero", "nan" or "raise"
        duplicates = "once"                     # optional: "once" or "compacted"

pytest then collects the ``test_*`` methods below: bounds, the perfect ranking, an empty
ranking, an empty relevant set (per ``empty_relevant``), invariance to the order of the
relevant set, the effect of a repeated item, and agreement with llmrec's reference definition
to 1e-12 on generated cases. A disagreement fails with the first counterexample as a table
(ranking, relevant, k, expected, got) and, where one explains it, the name of the convention
the function follows instead (for example "AP normalised by |relevant| instead of
min(|relevant|, k)").

A repeated item in ``ranked`` counts once, at its first rank, and later items keep their ranks
(``duplicates = "once"``, llmrec's metrics). Evaluators that store a run as a dict of item →
score (ranx, trec_eval, pytrec_eval) keep the first occurrence and move later items up:
declare ``duplicates = "compacted"`` for those, and the contract compares them with llmrec's
value on the list with its repeats dropped (``[1, 1, 2]`` is scored as ``[1, 2]``).

Claims: ``"precision@k"``, ``"recall@k"``, ``"f1@k"``, ``"hit@k"``, ``"ndcg@k"``, ``"map@k"``
(``normalization = "min"`` by default, or ``"relevant"``, ``"hits"``; also written
``"map_relevant@k"``), ``"mrr"`` (whole list; ``k`` is passed and must not matter) and
``"mrr@k"``. ``relevance = "graded"`` checks graded NDCG: ``relevant`` is then a dict
id → grade (1–3) and ``gain`` is ``"linear"`` (the grade, default) or ``"exponential"``
(2^grade − 1). Ids are small non-negative integers; ``ranked`` is a list and ``relevant`` a
set (or a list, in the order test). pytest and hypothesis are imported only by the tests.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ClassVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from llmrec.errors import ConfigError
from llmrec.metrics.table import text_table
from llmrec.testing import strategies
from llmrec.testing._metric_reference import (
    Claim,
    Convention,
    alternatives,
    parse_claim,
    reference,
)

__all__ = ["TOLERANCE", "MetricContract"]

TOLERANCE = 1e-12
"""Largest absolute difference from llmrec's reference that still agrees."""

_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow],
)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(str(v) for v in sorted(value)) + "}" if value else "{}"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _table(rows: Sequence[tuple[Any, Any, int, Any, Any]]) -> str:
    header = ["ranking", "relevant", "k", "expected", "got"]
    return text_table(header, [[_show(c) for c in row] for row in rows])


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= TOLERANCE


class MetricContract:
    """Base class of a project's metric tests; see the module docstring."""

    metric: ClassVar[str]
    """The claimed metric, e.g. ``"ndcg@k"``."""
    function: ClassVar[Callable[..., float]]
    """The project's ``f(ranked, relevant, k) -> float``, as a ``staticmethod``."""
    empty_relevant: ClassVar[str | None] = None
    """What the function returns for an empty relevant set: ``"zero"``, ``"nan"`` or
    ``"raise"``; ``None`` leaves that case untested."""
    normalization: ClassVar[str] = "min"
    relevance: ClassVar[str] = "binary"
    gain: ClassVar[str] = "linear"
    duplicates: ClassVar[str] = "once"
    """How a repeated item in the ranked list is scored: ``"once"`` (at its first rank; later
    items keep their ranks) or ``"compacted"`` (dropped, later items move up, as in ranx,
    trec_eval and pytrec_eval)."""
    corpus_size: ClassVar[int] = 400
    """Deterministic generated cases used to name the convention behind a disagreement."""

    # -- the claim and the function ------------------------------------------------------------
    def _claim(self) -> Claim:
        return parse_claim(
            self.metric, self.normalization, self.relevance, self.gain, self.duplicates
        )

    def _function(self) -> Callable[..., float]:
        raw = inspect.getattr_static(type(self), "function", None)
        if raw is None:
            raise ConfigError(
                f"{type(self).__name__} must set `function = staticmethod(your_metric)`"
            )
        fn = raw.__func__ if isinstance(raw, staticmethod | classmethod) else raw
        if not callable(fn):
            raise ConfigError(f"{type(self).__name__}.function is not callable ({fn!r})")
        return fn

    def _call(self, ranked: Sequence[Hashable], relevant: Any, k: int) -> float:
        rel = dict(relevant) if isinstance(relevant, dict) else relevant
        return float(self._function()(list(ranked), rel, k))

    def _value(self, ranked: list[int], relevant: Any, k: int, what: str) -> float:
        """The function's value, or a failure naming the crash and showing the case."""
        self._function()  # a missing function is a ConfigError, not a crash of the metric
        try:
            return self._call(ranked, relevant, k)
        except Exception as exc:
            hint = (
                "It crashes on an empty ranked list (expected 0.0)."
                if not ranked
                else "It crashes on this case."
            )
            crash = f"raised {type(exc).__name__}: {exc}"
            table = _table([(ranked, relevant, k, "(a value)", crash)])
            raise AssertionError(f"{self._claim().label}: {what}\n{table}\n{hint}") from exc

    def _grades(self) -> bool:
        return self._claim().graded

    def _cases(self, **options: Any) -> st.SearchStrategy[strategies.RankingCase]:
        return strategies.ranking_cases(graded=self._grades(), **options)

    # -- diagnosis -----------------------------------------------------------------------------
    def _corpus(self) -> list[tuple[list[int], Any, int]]:
        rng = random.Random(20261202)
        graded = self._grades()
        out: list[tuple[list[int], Any, int]] = []
        for _ in range(self.corpus_size):
            ids = rng.sample(range(12), rng.randint(1, 8))
            relevant: Any = {i: rng.randint(1, 3) for i in ids} if graded else set(ids)
            pool = [*ids, *range(12, 24)]
            ranked = [rng.choice(pool) for _ in range(rng.randint(0, 12))]
            out.append((ranked, relevant, rng.randint(1, 12)))
        return out

    def _explain(self, ranked: list[int], relevant: Any, k: int, got: float) -> str:
        """Name the convention that the function follows instead of llmrec's, if one does."""
        candidates: list[Convention] = []
        for conv in alternatives(self._claim()):
            try:
                if _same(conv.value(ranked, relevant, k), got):
                    candidates.append(conv)
            except Exception:
                continue
        if not candidates:
            return "No known convention explains the difference."
        scores: dict[str, int] = {}
        defined = 0
        for r, rel, kk in self._corpus():
            try:
                value = self._call(r, rel, kk)
            except Exception:
                continue
            defined += 1
            for conv in candidates:
                try:
                    scores[conv.name] = scores.get(conv.name, 0) + _same(
                        conv.value(r, rel, kk), value
                    )
                except Exception:
                    continue
        best = max(candidates, key=lambda c: scores.get(c.name, 0))
        n = scores.get(best.name, 0)
        if n == defined:
            return (
                f"The function follows another convention: {best.name} "
                f"(llmrec: {best.llmrec}); it agrees with that convention on all {defined} "
                "generated cases."
            )
        return (
            f"Closest known convention: {best.name} (llmrec: {best.llmrec}); it matches this "
            f"case and {n} of {defined} generated cases."
        )

    def _expect_agreement(self, cases: Sequence[tuple[list[int], Any, int]], what: str) -> None:
        """Fail on the first case where the function differs from llmrec's reference."""
        ref = reference(self._claim())
        self._function()
        for ranked, relevant, k in cases:
            expected = ref(ranked, relevant, k)
            try:
                got = self._call(ranked, relevant, k)
            except Exception as exc:
                crash = f"raised {type(exc).__name__}: {exc}"
                hint = (
                    "It crashes on an empty ranked list (expected 0.0)."
                    if not ranked
                    else "It crashes on this case."
                )
                raise AssertionError(
                    f"{self._claim().label}: {what}\n"
                    f"{_table([(ranked, relevant, k, expected, crash)])}\n{hint}"
                ) from exc
            if not _same(got, expected):
                raise AssertionError(
                    f"{self._claim().label} disagrees with llmrec's reference definition "
                    f"(tolerance {TOLERANCE:g}): {what}\n"
                    f"{_table([(ranked, relevant, k, expected, got)])}\n"
                    f"{self._explain(ranked, relevant, k, got)}"
                )

    # -- the tests -----------------------------------------------------------------------------
    @_SETTINGS
    @given(data=st.data())
    def test_values_are_within_bounds(self, data: st.DataObject) -> None:
        case = data.draw(self._cases(min_relevant=1), label="case")
        value = self._value(case.ranked, case.relevant, case.k, "on a generated case")
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise AssertionError(
                f"{self._claim().label} is outside [0, 1]:\n"
                f"{_table([(case.ranked, case.relevant, case.k, '[0, 1]', value)])}\n"
                f"{self._explain(case.ranked, case.relevant, case.k, value)}"
            )

    def test_perfect_ranking(self) -> None:
        cases = []
        for n_rel in (1, 2, 3, 5, 8):
            for k in (1, 2, 3, 5, 10):
                ids = list(range(n_rel))
                grades = {i: 3 - (i % 3) for i in ids}
                if self._grades():
                    ranked = sorted(ids, key=lambda i: (-grades[i], i))
                    relevant: Any = grades
                else:
                    ranked, relevant = ids, set(ids)
                cases.append(([*ranked, 100, 101], relevant, k))
        self._expect_agreement(cases, "on a perfect ranking (every relevant item first)")

    def test_empty_ranking_scores_zero(self) -> None:
        relevant: Any = {1: 2, 2: 1} if self._grades() else {1, 2}
        self._expect_agreement([([], relevant, k) for k in (1, 3, 10)], "on an empty ranked list")

    def test_empty_relevant_set(self) -> None:
        import pytest

        convention = self.empty_relevant
        if convention is None:
            pytest.skip("empty_relevant is not declared, so that case is not tested")
        if convention not in ("zero", "nan", "raise"):
            raise ConfigError(
                f"empty_relevant must be 'zero', 'nan', 'raise' or None (got {convention!r})"
            )
        empty: Any = {} if self._grades() else set()
        for ranked in ([], [1, 2, 3]):
            if convention == "raise":
                try:
                    got = self._call(ranked, empty, 3)
                except Exception:
                    continue
                raise AssertionError(
                    "declared empty_relevant='raise', but the function returned a value:\n"
                    + _table([(ranked, empty, 3, "an exception", got)])
                )
            try:
                got = self._call(ranked, empty, 3)
            except Exception as exc:
                raise AssertionError(
                    f"declared empty_relevant={convention!r}, but the function raised "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            want = 0.0 if convention == "zero" else float("nan")
            if not _same(got, want):
                raise AssertionError(
                    f"declared empty_relevant={convention!r}, but:\n"
                    + _table([(ranked, empty, 3, want, got)])
                )

    @_SETTINGS
    @given(data=st.data())
    def test_order_of_the_relevant_set_does_not_matter(self, data: st.DataObject) -> None:
        case = data.draw(self._cases(min_relevant=2), label="case")
        seed = data.draw(st.integers(0, 2**16), label="shuffle seed")
        rng = random.Random(seed)
        base = self._value(case.ranked, case.relevant, case.k, "on a generated case")
        if isinstance(case.relevant, dict):
            items = list(case.relevant.items())
            rng.shuffle(items)
            orders: list[Any] = [dict(items), dict(reversed(items))]
        else:
            ids = sorted(case.relevant)
            rng.shuffle(ids)
            orders = [ids, list(reversed(ids)), frozenset(ids)]
        for relevant in orders:
            got = self._value(case.ranked, relevant, case.k, "with the relevant set reordered")
            if not _same(got, base):
                raise AssertionError(
                    "the value depends on the order of the relevant set:\n"
                    + _table(
                        [
                            (case.ranked, case.relevant, case.k, base, base),
                            (case.ranked, list(relevant), case.k, base, got),
                        ]
                    )
                )

    def test_a_repeated_item_counts_once(self) -> None:
        graded = self._grades()
        cases = []
        for ranked in ([1, 1, 2], [1, 9, 1, 2], [9, 1, 1, 1], [1, 2, 1, 2, 3], [2, 2, 2, 2]):
            for k in (2, 3, 4, 5):
                relevant: Any = {1: 2, 2: 1, 3: 3} if graded else {1, 2, 3}
                cases.append((ranked, relevant, k))
        what = (
            "on a list with a repeated item (declared duplicates='compacted': dropped, later "
            "items move up)"
            if self._claim().duplicates == "compacted"
            else "on a list with a repeated item (llmrec counts it once, at its first rank)"
        )
        self._expect_agreement(cases, what)

    @_SETTINGS
    @given(data=st.data())
    def test_agrees_with_llmrec_reference(self, data: st.DataObject) -> None:
        case = data.draw(self._cases(min_relevant=1), label="case")
        self._expect_agreement([(case.ranked, case.relevant, case.k)], "on a generated case")

    def test_agrees_on_lists_shorter_than_k(self) -> None:
        cases = [
            (ranked, {1, 2, 3, 4} if not self._grades() else {1: 1, 2: 2, 3: 3, 4: 1}, k)
            for ranked in ([1], [9, 2], [1, 9, 3])
            for k in (5, 10)
        ]
        self._expect_agreement(cases, "on a list shorter than k")
