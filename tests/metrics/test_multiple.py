"""adjust_pvalues: equal to statsmodels' multipletests on random families, edge cases decided."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from llmrec.errors import ConfigError
from llmrec.metrics import adjust_pvalues

METHODS = ["holm", "bonferroni", "fdr_bh"]

pvalues = st.lists(
    st.one_of(
        st.floats(0.0, 1.0, allow_nan=False),
        st.sampled_from([0.0, 0.01, 0.05, 0.5, 1.0]),  # ties and the bounds
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(p=pvalues, method=st.sampled_from(METHODS))
def test_equals_statsmodels_multipletests(p: list[float], method: str) -> None:
    expected = multipletests(p, method=method)[1]
    got = adjust_pvalues(p, method)  # type: ignore[arg-type]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(p=pvalues)
def test_orders_of_the_corrections(p: list[float]) -> None:
    """Raw ≤ BH ≤ Holm ≤ Bonferroni ≤ 1, value by value; the input order is kept."""
    raw = np.asarray(p)
    bh, holm, bonf = (adjust_pvalues(p, m) for m in ("fdr_bh", "holm", "bonferroni"))
    tol = 1e-12
    assert np.all(raw <= bh + tol) and np.all(bh <= holm + tol)
    assert np.all(holm <= bonf + tol) and np.all(bonf <= 1.0)
    perm = np.random.default_rng(len(p)).permutation(len(p))
    np.testing.assert_allclose(adjust_pvalues(raw[perm], "holm"), holm[perm], rtol=0, atol=1e-15)


def test_a_worked_family() -> None:
    """Three tests: Holm multiplies the smallest by 3, the next by 2, then keeps the order."""
    p = [0.01, 0.04, 0.03]
    assert adjust_pvalues(p, "holm").tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert adjust_pvalues(p, "bonferroni").tolist() == pytest.approx([0.03, 0.12, 0.09])
    assert adjust_pvalues(p, "fdr_bh").tolist() == pytest.approx([0.03, 0.04, 0.04])


def test_nan_is_kept_and_not_counted() -> None:
    got = adjust_pvalues([0.01, math.nan, 0.02], "bonferroni")
    assert got[0] == pytest.approx(0.02) and math.isnan(got[1]) and got[2] == pytest.approx(0.04)
    assert adjust_pvalues([], "holm").size == 0
    assert np.isnan(adjust_pvalues([math.nan], "fdr_bh")).all()


def test_bad_input_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"p\[1\] = 1.5"):
        adjust_pvalues([0.1, 1.5])
    with pytest.raises(ConfigError, match="method must be one of"):
        adjust_pvalues([0.1], "sidak")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="1-D"):
        adjust_pvalues([[0.1, 0.2]])
