"""Ragged inputs (lists, tuples, sets, dicts of any hashable ids) against the padded-array path.

The ragged path reads integer ids in C and codes other ids through a dict; both must give the
same per-user values as coding the ids by hand into ``-1``-padded arrays, and as the single-user
functions, for duplicates, empty lists, lists shorter than K, negative, huge and string ids.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.metrics import (
    average_precision,
    average_precision_batch,
    evaluate,
    f1_at_k,
    f1_at_k_batch,
    hit_at_k,
    hit_at_k_batch,
    ndcg_at_k,
    ndcg_at_k_batch,
    precision_at_k,
    precision_at_k_batch,
    recall_at_k,
    recall_at_k_batch,
    reciprocal_rank,
    reciprocal_rank_batch,
)
from llmrec.metrics._hits import to_padded

Single = Callable[..., float]
Batch = Callable[..., Any]

PAIRS: list[tuple[str, Single, Batch]] = [
    ("precision", precision_at_k, precision_at_k_batch),
    ("recall", recall_at_k, recall_at_k_batch),
    ("f1", f1_at_k, f1_at_k_batch),
    ("hit", hit_at_k, hit_at_k_batch),
    ("rr", reciprocal_rank, reciprocal_rank_batch),
    ("ap", average_precision, average_precision_batch),
    ("ndcg", ndcg_at_k, ndcg_at_k_batch),
]

# Id pools: each example draws its ids from one pool, so that every coding path is exercised
# (non-negative ints, negative ints, ints spanning more than int64, ints >= 2**63, strings,
# and a mix of strings, ints and tuples).
POOLS: list[list[Hashable]] = [
    list(range(12)),
    list(range(-6, 6)),
    [-(2**62) - 3, -(2**62), 0, 2**62, 2**62 + 7, 5],
    [2**63, 2**63 + 1, 2**64 + 5, 1, 2],
    ["a", "b", "c", "d", "e", "f", "g"],
    ["a", "b", 3, 4, -1, ("t", 1), frozenset({2})],
]


@st.composite
def ragged_inputs(draw: st.DrawFn) -> tuple[list[Any], list[Any]]:
    pool = draw(st.sampled_from(POOLS))
    ids = st.sampled_from(pool)
    n = draw(st.integers(1, 8))
    ranked_kind = draw(st.sampled_from([list, tuple]))
    truth_kind = draw(st.sampled_from([list, tuple, set, frozenset]))
    ranked = [ranked_kind(draw(st.lists(ids, max_size=14))) for _ in range(n)]
    truth = [truth_kind(draw(st.lists(ids, max_size=8))) for _ in range(n)]
    return ranked, truth


def _padded_by_hand(
    ranked: Sequence[Any], truth: Sequence[Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Code every id to 0, 1, ... in order of first appearance and pad rows with -1."""
    codes: dict[Hashable, int] = {}
    for row in [*ranked, *truth]:
        for x in row:
            codes.setdefault(x, len(codes))

    def pad(rows: Sequence[Any]) -> np.ndarray[Any, Any]:
        out = np.full((len(rows), max([len(r) for r in rows] + [1])), -1, dtype=np.int64)
        for i, row in enumerate(rows):
            out[i, : len(row)] = [codes[x] for x in row]
        return out

    return pad(ranked), pad(truth)


@given(data=ragged_inputs(), k=st.integers(1, 12))
def test_ragged_equals_padded_and_single_user(data: tuple[list[Any], list[Any]], k: int) -> None:
    ranked, truth = data
    padded_r, padded_t = _padded_by_hand(ranked, truth)
    for name, single, batch in PAIRS:
        ragged_values = batch(ranked, truth, k)
        padded_values = batch(padded_r, padded_t, k)
        np.testing.assert_array_equal(ragged_values, padded_values, err_msg=name)
        for i, (row, rel) in enumerate(zip(ranked, truth, strict=True)):
            expected = single(list(row), set(rel), k)
            if math.isnan(expected):
                assert math.isnan(ragged_values[i]), (name, i)
            else:
                assert ragged_values[i] == pytest.approx(expected, abs=1e-12), (name, i)
    # without a cutoff, reciprocal rank reads whole lists of any length
    np.testing.assert_array_equal(
        reciprocal_rank_batch(ranked, truth), reciprocal_rank_batch(padded_r, padded_t)
    )


@given(data=ragged_inputs(), absent=st.sets(st.integers(0, 7)), extra=st.integers(0, 3))
def test_evaluate_on_dicts_equals_evaluate_on_padded_arrays(
    data: tuple[list[Any], list[Any]], absent: set[int], extra: int
) -> None:
    ranked, truth = data
    users = [f"u{i}" for i in range(len(ranked))]
    recs: dict[str, Any] = {
        u: r for i, (u, r) in enumerate(zip(users, ranked, strict=True)) if i not in absent
    }
    recs.update({f"stranger{j}": ["a", 1] for j in range(extra)})  # ignored: not in the truth
    recs.update({u: None for i, u in enumerate(users) if i in absent and i % 2})  # None = absent
    truth_map = dict(zip(users, truth, strict=True))
    aligned = [() if i in absent else r for i, r in enumerate(ranked)]
    padded_r, padded_t = _padded_by_hand(aligned, truth)
    names = ["precision@3", "recall@5", "f1@5", "mrr", "map@5", "ndcg@10", "hit@5"]
    by_dict = evaluate(recs, truth_map, names, n_bootstrap=0, empty_truth="zero")
    by_array = evaluate(padded_r, padded_t, names, n_bootstrap=0, empty_truth="zero")
    assert by_dict.users == users
    for name in names:
        np.testing.assert_array_equal(by_dict.values[name], by_array.values[name], err_msg=name)
    assert by_dict.n_missing == len(absent & set(range(len(users))))
    assert by_dict.n_ignored == extra
    assert by_dict.duplicate_rate == by_array.duplicate_rate


def test_integer_ids_keep_their_value_and_others_are_coded() -> None:
    ranked, truth = to_padded([[3, 1, 3], [7]], [{1}, (7, 7)])
    assert ranked.tolist() == [[3, 1, 3], [7, -1, -1]]  # non-negative ints pass unchanged
    assert truth.tolist() == [[1, -1], [7, 7]]
    shifted, _ = to_padded([[-2, 5]], [[5]])
    assert shifted.tolist() == [[0, 7]]  # negative ids: one offset for every id
    coded, coded_truth = to_padded([["x", "y", "x"]], [["y"]])
    assert coded[0, 0] == coded[0, 2] != coded[0, 1] == coded_truth[0, 0]


@pytest.mark.parametrize(
    ("ranked", "truth", "expected"),
    [
        ([[np.int64(4), 5, 6]], [[4]], 1.0),  # numpy integer scalars equal their int value
        ([[2.0, 1.5]], [[2]], 1.0),  # 2.0 == 2 as in a Python set; floats take the dict path
        ([[True, 2]], [[1]], 1.0),  # True == 1 as in a Python set
        ([[1.5, 2]], [[1]], 0.0),  # 1.5 is not truncated to 1
        ([["5", 6]], [[5]], 0.0),  # "5" is not parsed as 5
        ([[2**63 + 1, 3]], [[2**63 + 1]], 1.0),  # beyond int64
        ([[-(2**63), 2**63 - 1]], [[2**63 - 1]], 0.5),  # span wider than int64
    ],
)
def test_id_equality_follows_python_sets(
    ranked: list[list[Any]], truth: list[list[Any]], expected: float
) -> None:
    assert reciprocal_rank_batch(ranked, truth).tolist() == [expected]
    assert reciprocal_rank(ranked[0], set(truth[0])) == expected


def test_dict_of_array_rows_with_a_missing_user() -> None:
    recs = {"a": np.array([3, 4, -1]), "b": None}
    truth = {"a": np.array([4]), "b": [1], "c": (2,)}
    report = evaluate(recs, truth, ["mrr", "precision@2"], n_bootstrap=0)
    assert report.users == ["a", "b", "c"]
    assert report.values["mrr"].tolist() == [0.5, 0.0, 0.0]
    assert report.values["precision@2"].tolist() == [0.5, 0.0, 0.0]
    assert report.n_missing == 2


@pytest.mark.parametrize("order", [["a", "b", "c"], ["c", "a", "b"]])
def test_dict_alignment_does_not_depend_on_key_order(order: list[str]) -> None:
    given_recs = {"a": [1, 2], "b": None, "c": ["x", 9]}
    recs = {u: given_recs[u] for u in order}
    truth = {"a": {2}, "b": {1}, "c": ("x",)}
    report = evaluate(recs, truth, ["mrr"], n_bootstrap=0)
    assert report.users == ["a", "b", "c"]
    assert report.values["mrr"].tolist() == [0.5, 0.0, 1.0]
    assert (report.n_missing, report.n_ignored) == (1, 0)
