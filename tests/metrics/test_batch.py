"""Batch inputs: padded arrays, ragged lists, both membership and dedup code paths, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.errors import ConfigError
from llmrec.metrics import (
    PAD,
    _hits,
    average_precision_batch,
    build_hit_matrix,
    ndcg_at_k,
    ndcg_at_k_batch,
    precision_at_k_batch,
    recall_at_k_batch,
    reciprocal_rank,
    reciprocal_rank_batch,
)


def test_hit_matrix_worked_example() -> None:
    ranked = np.array([[5, 7, 5, 9], [1, -1, 2, -1]])
    relevant = np.array([[5, 9, 9], [2, -1, -1]])
    hm = build_hit_matrix(ranked, relevant, 5)
    assert hm.hits.tolist() == [
        [True, False, False, True, False],  # the repeat of 5 is no hit; rank 5 does not exist
        [False, False, True, False, False],  # padding keeps its slot
    ]
    assert hm.n_relevant.tolist() == [2, 1]  # duplicate 9 and padding are not counted
    assert PAD == -1


def test_ragged_and_padded_inputs_agree() -> None:
    ranked = [[10, 11, 12], [], [13, 10]]
    relevant = [[12], [10], [10, 13, 14]]
    padded_r = np.array([[10, 11, 12], [-1, -1, -1], [13, 10, -1]])
    padded_t = np.array([[12, -1, -1], [10, -1, -1], [10, 13, 14]])
    np.testing.assert_array_equal(
        ndcg_at_k_batch(ranked, relevant, 3), ndcg_at_k_batch(padded_r, padded_t, 3)
    )
    # lists of 1-D integer arrays drop their padding too
    rows = [np.array([10, 11, 12, -1]), np.array([-1]), np.array([13, 10])]
    np.testing.assert_array_equal(
        recall_at_k_batch(rows, relevant, 2), recall_at_k_batch(padded_r, padded_t, 2)
    )


def test_negative_ids_in_python_lists_are_real_ids() -> None:
    values = precision_at_k_batch([[-5, -1, 3]], [[-1, 3]], 3)
    assert values.tolist() == [pytest.approx(2 / 3)]


def test_mixed_id_types_and_huge_ints() -> None:
    big = 2**70
    values = recall_at_k_batch([["a", big, 3], [3]], [[big, 3], ["a"]], 3)
    assert values.tolist() == [1.0, 0.0]


def test_empty_relevant_policies_in_batch() -> None:
    ranked = [[1, 2], [3]]
    relevant: list[list[int]] = [[2], []]
    skip = precision_at_k_batch(ranked, relevant, 2)
    assert skip[0] == 0.5 and math.isnan(skip[1])
    assert precision_at_k_batch(ranked, relevant, 2, empty_relevant="zero").tolist() == [0.5, 0]
    with pytest.raises(ConfigError, match="position 1 has an empty relevant set"):
        precision_at_k_batch(ranked, relevant, 2, empty_relevant="raise")


def test_reciprocal_rank_batch_without_cutoff_reads_the_whole_list() -> None:
    ranked = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]])
    assert reciprocal_rank_batch(ranked, np.array([[12]])).tolist() == [1 / 12]
    assert reciprocal_rank_batch(ranked, np.array([[12]]), 10).tolist() == [0.0]


@pytest.mark.parametrize(
    ("ranked", "relevant", "match"),
    [
        (np.array([1, 2]), np.array([1]), "must be 2-D"),
        (np.array([[1.0, 2.0]]), np.array([[1]]), "integer ids"),
        ([[1]], [[1], [2]], "same users"),
        (["ab"], [[1]], "is a string"),
        ([[1, [2]]], [[1]], "hashable"),
        (np.array([1, 2]), [[1], [2]], "not a sequence of item ids"),
        (np.array([[2**63]], dtype=np.uint64), np.array([[1]]), "above 2"),
    ],
)
def test_bad_batch_inputs_raise(ranked: Any, relevant: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        precision_at_k_batch(ranked, relevant, 2)


def test_ap_batch_rejects_unknown_normalisation() -> None:
    with pytest.raises(ConfigError, match="normalization must be one of"):
        average_precision_batch([[1]], [[1]], 1, normalization="trec")  # type: ignore[arg-type]


def test_zero_users() -> None:
    empty = np.zeros((0, 10), dtype=np.int64)
    assert ndcg_at_k_batch(empty, empty, 10).shape == (0,)
    assert reciprocal_rank_batch([], []).shape == (0,)


def test_chunking_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    ranked = rng.integers(-1, 30, size=(500, 12))
    relevant = rng.integers(-1, 30, size=(500, 6))
    before = ndcg_at_k_batch(ranked, relevant, 10)
    monkeypatch.setattr(_hits, "_BLOCK_ROWS", 7)
    np.testing.assert_array_equal(ndcg_at_k_batch(ranked, relevant, 10), before)


def test_huge_ids_with_many_relevant_columns_use_row_wise_bisection() -> None:
    big = 2**61
    rng = np.random.default_rng(5)
    relevant = big + rng.integers(0, 60, size=(40, 40))
    ranked = big + rng.integers(0, 60, size=(40, 10))
    ranked[:, 7] = -1
    hm = build_hit_matrix(ranked, relevant, 10)
    for i in range(40):
        rel = set(relevant[i].tolist())
        seen: set[int] = set()
        expected = []
        for x in ranked[i].tolist():
            expected.append(x >= 0 and x in rel and x not in seen)
            seen.add(x)
        assert hm.hits[i].tolist() == expected
        assert hm.n_relevant[i] == len(rel)


matrix_rows = st.lists(
    st.tuples(
        st.lists(st.integers(-1, 40), max_size=40),
        st.lists(st.integers(-1, 40), max_size=40),
    ),
    min_size=1,
    max_size=8,
)


def _pad(rows: list[list[int]]) -> np.ndarray[Any, Any]:
    width = max([len(r) for r in rows] + [1])
    out = np.full((len(rows), width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


@given(rows=matrix_rows, k=st.integers(1, 45))
def test_search_and_sort_paths_equal_broadcast_paths(
    rows: list[tuple[list[int], list[int]]], k: int
) -> None:
    ranked = _pad([r for r, _ in rows])
    relevant = _pad([t for _, t in rows])
    broadcast = build_hit_matrix(ranked, relevant, None)
    old = _hits._BROADCAST_MAX_R
    try:
        _hits._BROADCAST_MAX_R = 0  # force the binary search and the sort-based dedup
        searched = build_hit_matrix(ranked, relevant, None)
    finally:
        _hits._BROADCAST_MAX_R = old
    np.testing.assert_array_equal(broadcast.hits, searched.hits)
    np.testing.assert_array_equal(broadcast.n_relevant, searched.n_relevant)
    # and both agree with the single-user functions, padding included
    for i in range(ranked.shape[0]):
        if broadcast.n_relevant[i]:
            expected = ndcg_at_k(ranked[i], relevant[i], k)
            assert ndcg_at_k_batch(ranked[i : i + 1], relevant[i : i + 1], k)[0] == (
                pytest.approx(expected)
            )
            assert reciprocal_rank_batch(ranked[i : i + 1], relevant[i : i + 1])[0] == (
                pytest.approx(reciprocal_rank(ranked[i], relevant[i]))
            )
