"""AUC equals scikit-learn's (ties count one half); gAUC is the mean of users' own AUCs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.errors import ConfigError
from llmrec.metrics import auc, compare, evaluate_auc, gauc

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def _brute(labels: np.ndarray, scores: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (pos.size * neg.size))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 300),
    st.integers(0, 2**32 - 1),
    st.sampled_from([2, 5, 50, None]),
)
def test_auc_equals_sklearn_and_pairs_with_ties(n: int, seed: int, levels: int | None) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    labels[0], labels[1] = 0, 1  # both classes
    # few levels: many ties
    scores = rng.integers(0, levels, n) / levels if levels else rng.normal(size=n)
    ours = auc(labels, scores)
    assert abs(ours - sklearn_metrics.roc_auc_score(labels, scores)) <= 1e-12
    assert abs(ours - _brute(labels, scores)) <= 1e-12


def test_auc_examples() -> None:
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert auc([0, 1], [0.5, 0.5]) == 0.5  # a tie counts one half
    assert auc([True, False], [0.9, 0.1]) == 1.0


def test_auc_rejects_one_class_and_bad_labels() -> None:
    with pytest.raises(ConfigError, match="both classes"):
        auc([1, 1], [0.2, 0.3])
    with pytest.raises(ConfigError, match="row 1 is 2"):
        auc([0, 2], [0.2, 0.3])
    with pytest.raises(ConfigError, match="finite"):
        auc([0, 1], [0.2, float("nan")])


def test_gauc_is_the_mean_of_users_own_aucs_and_skips_one_class_users() -> None:
    users = ["a", "a", "a", "b", "b", "c"]
    labels = [1, 0, 0, 1, 0, 1]
    scores = [0.9, 0.1, 0.95, 0.2, 0.3, 0.5]
    # a: 0.5 (one of two negatives below), b: 0.0, c: one class -> left out
    assert gauc(users, labels, scores) == pytest.approx(0.25)
    report = evaluate_auc(users, labels, scores, n_bootstrap=200, seed=1)
    assert report.users == ["a", "b"]
    assert report.n_skipped == 1
    assert report["gauc"] == pytest.approx(0.25)
    assert report.options["auc"]["mean"] == auc(labels, scores)
    lo, hi = report.ci["gauc"]
    assert 0.0 <= lo <= 0.25 <= hi <= 0.5


def test_evaluate_auc_reports_pair_for_compare() -> None:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(40), 6)
    labels = np.tile([1, 1, 1, 0, 0, 0], 40)
    good = labels + rng.normal(scale=0.5, size=labels.size)
    noise = rng.normal(size=labels.size)
    a = evaluate_auc(users, labels, good, n_bootstrap=100)
    b = evaluate_auc(users, labels, noise, n_bootstrap=100)
    result = compare(a, b, n_permutations=500)
    assert result.n_paired == 40
    assert result.results["gauc"].diff > 0.2
    assert result.results["gauc"].t_pvalue < 1e-3
    lo, hi = a.options["auc"]["ci_low"], a.options["auc"]["ci_high"]
    assert lo <= a.options["auc"]["mean"] <= hi


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_compare_auc_is_paired_and_antisymmetric(seed: int) -> None:
    from llmrec.metrics import compare_auc

    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(12), 4)
    labels = np.tile([1, 0, 1, 0], 12)
    a = labels + rng.normal(size=labels.size)
    b = rng.normal(size=labels.size)
    ab = compare_auc(users, labels, a, b, n_bootstrap=200, seed=seed)
    ba = compare_auc(users, labels, b, a, n_bootstrap=200, seed=seed)
    assert ab["diff"] == pytest.approx(auc(labels, a) - auc(labels, b), abs=1e-12)
    assert ba["diff"] == pytest.approx(-ab["diff"], abs=1e-12)
    assert ba["ci_low"] == pytest.approx(-ab["ci_high"]) and ab["pvalue"] == ba["pvalue"]
    assert ab["ci_low"] <= ab["ci_high"] and 0 < ab["pvalue"] <= 1
    same = compare_auc(users, labels, a, a, n_bootstrap=200, seed=seed)
    assert (same["diff"], same["ci_low"], same["ci_high"], same["pvalue"]) == (0, 0, 0, 1)


def test_compare_auc_finds_a_clearly_better_scoring() -> None:
    from llmrec.metrics import compare_auc

    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(40), 6)
    labels = np.tile([1, 1, 1, 0, 0, 0], 40)
    good = labels + rng.normal(scale=0.5, size=labels.size)
    noise = rng.normal(size=labels.size)
    result = compare_auc(users, labels, good, noise, n_bootstrap=500)
    assert result["diff"] > 0.3 and result["ci_low"] > 0 and result["pvalue"] < 0.01
    assert result["n_bootstrap"] == 500
