"""Sparse-matrix plumbing: item order, interaction and profile matrices, exact top-k."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from llmrec.data import Ratings
from llmrec.recommenders._matrix import (
    interaction_matrix,
    item_index,
    profile_matrix,
    top_k,
    top_k_sparse,
)


def _ratings(triples: list[tuple[int, int, int]]) -> Ratings:
    u, m, r = zip(*triples, strict=True)
    return Ratings(u, m, r, np.zeros(len(triples), dtype=np.int64))


def test_item_index_orders_by_count_then_id() -> None:
    index = item_index(_ratings([(1, 30, 5), (2, 30, 5), (1, 7, 3), (3, 12, 1), (2, 12, 2)]))
    assert index.movie_ids.tolist() == [12, 30, 7]
    assert index.counts.tolist() == [2, 2, 1]
    assert index.columns([7, 12, 99, 30]).tolist() == [2, 0, -1, 1]
    assert index.head(2).movie_ids.tolist() == [12, 30]
    assert index.head(2).columns([7, 30]).tolist() == [-1, 1]


def test_interaction_matrix_min_rating_weighting_and_repeats() -> None:
    # user 1 rated movie 5 twice (2 then 4 stars)
    ratings = _ratings([(1, 5, 2), (1, 5, 4), (1, 6, 1), (9, 6, 5)])
    index = item_index(ratings)  # 5 and 6 both twice: 5 first
    binary = interaction_matrix(ratings, index).toarray()
    assert binary.tolist() == [[1, 1], [0, 1]]
    stars = interaction_matrix(ratings, index, weighting="rating").toarray()
    assert stars.tolist() == [[3, 1], [0, 5]]
    strict = interaction_matrix(ratings, index, min_rating=3, weighting="rating").toarray()
    assert strict.tolist() == [[4, 0], [0, 5]]


def test_profile_matrix_ignores_unknown_and_repeated_movies() -> None:
    index = item_index(_ratings([(1, 5, 5), (2, 5, 5), (1, 6, 5)]))
    mat = profile_matrix([(6, 6, 99), (), (5, 6)], index).toarray()
    assert mat.tolist() == [[0, 1], [0, 0], [1, 1]]


def _reference_top_k(row: np.ndarray, k: int) -> list[int]:
    return sorted(range(row.size), key=lambda c: (-row[c], c))[:k]


scores_st = arrays(
    np.float64,
    st.tuples(st.integers(1, 6), st.integers(1, 12)),
    elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0, -np.inf]),
)


@given(scores=scores_st, k=st.integers(1, 15))
def test_top_k_matches_sorting(scores: np.ndarray, k: int) -> None:
    cols, vals = top_k(scores, k)
    assert cols.shape == (scores.shape[0], min(k, scores.shape[1]))
    for row, got in zip(scores, cols, strict=True):
        assert got.tolist() == _reference_top_k(row, k)
    assert np.array_equal(vals, np.take_along_axis(scores, cols, axis=1))


@given(
    scores=arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 12)),
        elements=st.sampled_from([0.0, 0.0, 0.25, 1.0, 3.0]),
    ),
    mask=st.data(),
    k=st.integers(1, 15),
)
def test_top_k_sparse_matches_dense_top_k(scores: np.ndarray, mask: st.DataObject, k: int) -> None:
    profile = mask.draw(arrays(np.bool_, scores.shape))
    index = item_index(_ratings([(1, 100 + c, 5) for c in range(scores.shape[1])]))
    dense = np.where(profile, -np.inf, scores)
    cols, vals = top_k(dense, k)
    recs = top_k_sparse(sp.csr_matrix(scores), sp.csr_matrix(profile.astype(np.float32)), k, index)
    for rec, row_cols, row_vals in zip(recs, cols, vals, strict=True):
        finite = np.isfinite(row_vals)
        assert rec.movie_ids == tuple(index.movie_ids[row_cols[finite]].tolist())
        assert rec.scores == pytest.approx(row_vals[finite].tolist())


@pytest.mark.parametrize("base", [0, 5_000_000, -40])
def test_columns_with_small_large_and_negative_ids(base: int) -> None:
    # Small non-negative ids use a lookup table; others a binary search: same answers.
    ids = [base + 7, base + 3, base + 3, base + 11]
    index = item_index(_ratings([(u, m, 4) for u, m in enumerate(ids)]))
    assert index.movie_ids.tolist() == [base + 3, base + 7, base + 11]
    query = [base + 11, base + 3, base + 4, base - 1, base + 100, 2**31 - 1, -(2**31)]
    assert index.columns(query).tolist() == [2, 0, -1, -1, -1, -1, -1]
