"""Beyond-accuracy measures: worked examples with their stated denominators."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmrec.errors import ConfigError
from llmrec.metrics import (
    catalog_coverage,
    duplicate_rate,
    hallucination_rate,
    invalid_output_rate,
    mean_popularity,
    novelty,
    relative_popularity,
)

RECS = [["a", "b", "a"], ["b", "c"], []]
POP = {"a": 10, "b": 4, "c": 1, "d": 5}


def test_catalog_coverage() -> None:
    assert catalog_coverage(RECS, 10) == 3 / 10
    # with the catalog's ids, items outside it (a hallucinated "zz") do not count
    assert catalog_coverage([["a", "zz"]], {"a", "b", "c", "d"}) == 1 / 4
    assert catalog_coverage([], 0) == 0.0
    with pytest.raises(ConfigError, match="catalog size is 2"):
        catalog_coverage(RECS, 2)


def test_mean_and_relative_popularity() -> None:
    # (user, distinct item) pairs: (1,a)=10 (1,b)=4 (2,b)=4 (2,c)=1 → 19 / 4
    assert mean_popularity(RECS, POP) == pytest.approx(19 / 4)
    gold = [["d"], ["c", "a"]]  # (5 + 1 + 10) / 3
    assert relative_popularity(RECS, gold, POP) == pytest.approx((19 / 4) / (16 / 3))
    # popularity as an array indexed by integer id; unknown ids count as 0
    assert mean_popularity([[0, 2, 99]], np.array([3.0, 0.0, 6.0])) == pytest.approx(3.0)
    assert relative_popularity(RECS, [["zz"]], POP) == 0.0


def test_novelty_is_mean_self_information() -> None:
    # 8 users; a: 4 of them (1 bit), b: 2 (2 bits), c: 1 (3 bits); "zz" unknown → left out
    counts = {"a": 4, "b": 2, "c": 1}
    assert novelty([["a", "b", "zz"], ["c", "c"]], counts, 8) == pytest.approx((1 + 2 + 3) / 3)
    assert novelty([["zz"]], counts, 8) == 0.0
    with pytest.raises(ConfigError, match="n_users"):
        novelty(RECS, counts, 0)
    with pytest.raises(ConfigError, match="interacting users"):
        novelty([["a"]], counts, 3)


def test_language_model_failure_rates() -> None:
    assert hallucination_rate(3, 12) == 0.25
    assert hallucination_rate([1, 0, 2], [5, 5, 2]) == pytest.approx(3 / 12)
    assert hallucination_rate(0, 0) == 0.0
    with pytest.raises(ConfigError, match="exceed"):
        hallucination_rate(3, 2)
    with pytest.raises(ConfigError, match="negative"):
        hallucination_rate(-1, 2)
    assert invalid_output_rate([True, False, True, True]) == 0.25
    assert invalid_output_rate([]) == 0.0


def test_duplicate_rate() -> None:
    assert duplicate_rate(RECS) == pytest.approx(1 / 5)
    assert duplicate_rate([np.array([4, 4, -1, -1])]) == 0.5  # padding is not an entry
    assert duplicate_rate([]) == 0.0
    with pytest.raises(ConfigError, match="is a string"):
        duplicate_rate(["abc"])
    assert math.isclose(duplicate_rate([[1, 1, 1]]), 2 / 3)
