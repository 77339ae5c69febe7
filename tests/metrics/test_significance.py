"""compare: paired tests against scipy, effect sizes by hand, degenerate cases without warnings."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from llmrec.errors import ConfigError
from llmrec.metrics import Comparison, MetricReport, compare


def _report(values: dict[str, list[float]], users: list[object] | None = None) -> MetricReport:
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    n = len(next(iter(arrays.values())))
    return MetricReport(
        users=list(range(n)) if users is None else users,
        values=arrays,
        means={k: float(v.mean()) for k, v in arrays.items()},
        ci={k: (math.nan, math.nan) for k in arrays},
        n_evaluated=n,
        n_skipped=0,
        duplicate_rate=0.0,
    )


A = [0.9, 0.4, 0.7, 0.3, 0.8, 0.6, 0.5, 0.2]
B = [0.5, 0.5, 0.2, 0.1, 0.9, 0.1, 0.3, 0.2]


def test_matches_scipy_and_hand_computed_effect_sizes() -> None:
    result = compare(_report({"ndcg@10": A}), _report({"ndcg@10": B}), seed=1)["ndcg@10"]
    d = np.subtract(A, B)
    t = stats.ttest_rel(A, B)
    w = stats.wilcoxon(A, B, zero_method="wilcox")
    assert result.n == 7 + 1
    assert result.diff == pytest.approx(d.mean())
    assert result.t_statistic == pytest.approx(t.statistic)
    assert result.t_pvalue == pytest.approx(t.pvalue)
    assert result.cohens_dz == pytest.approx(d.mean() / d.std(ddof=1))
    assert result.wilcoxon_statistic == pytest.approx(w.statistic)
    assert result.wilcoxon_pvalue == pytest.approx(w.pvalue)
    # non-zero |d| = .4 .1 .5 .2 .1 .5 .2 → ranks 5, 1.5, 6.5, 3.5, 1.5, 6.5, 3.5;
    # negatives are the two 0.1s (d = −0.1): R− = 3, R+ = 25 → r = (25 − 3) / 28
    assert result.rank_biserial == pytest.approx(22 / 28)


def test_randomisation_test_is_exact_for_small_samples() -> None:
    # 2^8 = 256 sign patterns ≤ n_permutations: the p-value is the exact share of patterns whose
    # |mean| reaches the observed one.
    d = np.subtract(A, B)
    observed = abs(d.mean())
    count = sum(
        abs(np.mean(d * np.array(signs))) >= observed - 1e-12
        for signs in itertools.product([1, -1], repeat=d.size)
    )
    result = compare(_report({"m": A}), _report({"m": B}), n_permutations=1000)["m"]
    assert result.randomization_pvalue == pytest.approx(count / 2**d.size)


def test_randomisation_test_is_seeded() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(60).tolist(), rng.random(60).tolist()
    one = compare(_report({"m": a}), _report({"m": b}), n_permutations=500, seed=2)
    two = compare(_report({"m": a}), _report({"m": b}), n_permutations=500, seed=2)
    assert one["m"].randomization_pvalue == two["m"].randomization_pvalue
    assert 0 < one["m"].randomization_pvalue <= 1


def test_identical_reports_give_p_one_without_warnings() -> None:
    result = compare(_report({"m": A}), _report({"m": A}))["m"]
    assert (result.t_statistic, result.t_pvalue, result.cohens_dz) == (0.0, 1.0, 0.0)
    assert (result.wilcoxon_statistic, result.wilcoxon_pvalue, result.rank_biserial) == (0, 1, 0)
    assert result.randomization_pvalue == 1.0


def test_constant_nonzero_difference() -> None:
    result = compare(_report({"m": [1.0] * 5}), _report({"m": [0.5] * 5}))["m"]
    assert result.t_statistic == math.inf and result.t_pvalue == 0.0
    assert result.cohens_dz == math.inf
    assert result.rank_biserial == 1.0


def test_a_single_paired_user_gives_nan_tests() -> None:
    result = compare(_report({"m": [1.0]}), _report({"m": [0.0]}))["m"]
    assert math.isnan(result.t_pvalue) and math.isnan(result.cohens_dz)
    assert math.isnan(result.wilcoxon_pvalue) and math.isnan(result.randomization_pvalue)
    assert result.diff == 1.0


def test_users_are_paired_by_id() -> None:
    a = _report({"m": [1.0, 0.0, 0.5]}, users=["x", "y", "z"])
    b = _report({"m": [0.5, 1.0, 9.0]}, users=["z", "x", "w"])
    comparison = compare(a, b)
    # pairs: x (1.0 vs 1.0), z (0.5 vs 0.5)
    assert (comparison.n_paired, comparison.n_only_a, comparison.n_only_b) == (2, 1, 1)
    assert comparison["m"].diff == 0.0


def test_comparison_renders() -> None:
    comparison = compare(_report({"p@3": A, "mrr": B}), _report({"p@3": B, "mrr": A}))
    assert isinstance(comparison, Comparison)
    text = str(comparison)
    assert text.splitlines()[0].split()[:3] == ["metric", "mean", "a"]
    assert "paired users: 8" in text
    assert "<td>mrr</td>" in comparison._repr_html_()
    assert comparison.to_dict()["results"]["mrr"]["n"] == 8


def test_bad_compare_arguments() -> None:
    a = _report({"m": A})
    with pytest.raises(ConfigError, match="not in both reports"):
        compare(a, _report({"m": B}), metrics=["x"])
    with pytest.raises(ConfigError, match="share no metric"):
        compare(a, _report({"q": B}))
    with pytest.raises(ConfigError, match="n_permutations"):
        compare(a, a, n_permutations=0)
    with pytest.raises(ConfigError, match="MetricReport"):
        compare(a, {"m": B})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="was not compared"):
        compare(a, a)["x"]


metric_values = st.lists(
    st.tuples(st.sampled_from([0.0, 0.2, 1 / 3, 0.5, 1.0]), st.sampled_from([0.0, 0.5, 1.0])),
    min_size=0,
    max_size=40,
)


@settings(max_examples=25)
@given(pairs=metric_values)
def test_any_paired_metric_values_give_valid_p_values_without_warnings(
    pairs: list[tuple[float, float]],
) -> None:
    a = _report({"m": [x for x, _ in pairs] or [0.0]}, users=list(range(max(1, len(pairs)))))
    b = _report({"m": [y for _, y in pairs] or [0.0]}, users=list(range(max(1, len(pairs)))))
    r = compare(a, b, n_permutations=200)["m"]
    for p in (r.t_pvalue, r.wilcoxon_pvalue, r.randomization_pvalue):
        assert math.isnan(p) or 0.0 <= p <= 1.0
    assert math.isnan(r.rank_biserial) or -1.0 <= r.rank_biserial <= 1.0
