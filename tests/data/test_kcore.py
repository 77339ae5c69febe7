"""k-core filtering to the fixed point (issue 20, item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import Ratings, SourceIds, kcore


def table(pairs: list[tuple[int, int]]) -> Ratings:
    n = len(pairs)
    return Ratings(
        [u for u, _ in pairs],
        [m for _, m in pairs],
        np.full(n, 4),
        np.zeros(n, dtype="datetime64[D]"),
        time=np.arange(n),
    )


def brute_force(pairs: list[tuple[int, int]], k: int, users: bool, items: bool) -> list[int]:
    """Remove one under-``k`` user or item at a time until none is left; the rows kept."""
    kept = list(range(len(pairs)))
    while True:
        user_count: dict[int, int] = {}
        item_count: dict[int, int] = {}
        for i in kept:
            user_count[pairs[i][0]] = user_count.get(pairs[i][0], 0) + 1
            item_count[pairs[i][1]] = item_count.get(pairs[i][1], 0) + 1
        weak = [
            i
            for i in kept
            if (users and user_count[pairs[i][0]] < k) or (items and item_count[pairs[i][1]] < k)
        ]
        if not weak:
            return kept
        u, m = pairs[weak[0]]
        if users and user_count[u] < k:
            kept = [i for i in kept if pairs[i][0] != u]
        else:
            kept = [i for i in kept if pairs[i][1] != m]


@given(
    st.lists(st.tuples(st.integers(1, 8), st.integers(1, 8)), max_size=60),
    st.integers(0, 5),
    st.booleans(),
    st.booleans(),
)
def test_kcore_equals_one_at_a_time_removal(
    pairs: list[tuple[int, int]], k: int, users: bool, items: bool
) -> None:
    got = kcore(table(pairs), k, users=users, items=items)
    expected = brute_force(pairs, k, users, items) if k > 1 else list(range(len(pairs)))
    assert got.time is not None
    assert got.time.astype(np.int64).tolist() == expected  # the rows, in their order


@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6)), max_size=40), st.integers(1, 4))
def test_the_result_is_a_fixed_point(pairs: list[tuple[int, int]], k: int) -> None:
    core = kcore(table(pairs), k)
    if len(core):
        assert np.bincount(core.user_id)[core.user_id].min() >= k
        assert np.bincount(core.movie_id)[core.movie_id].min() >= k
    assert kcore(core, k) == core


def test_a_chain_of_removals_needs_several_rounds() -> None:
    # 2-core. User 3 has one rating (of item 30), so item 30 drops to one rating (user 2's);
    # then user 2 is left with one rating, so item 20 drops to one and goes; users 1 and 4 and
    # items 10 and 40 form the core.
    pairs = [(1, 10), (1, 40), (4, 10), (4, 40), (2, 20), (2, 30), (3, 30), (5, 20)]
    core = kcore(table(pairs), 2)
    assert core.user_id.tolist() == [1, 1, 4, 4] and core.movie_id.tolist() == [10, 40, 10, 40]
    # users only: one pass removes users 3 and 5, and nothing else
    assert kcore(table(pairs), 2, items=False).user_id.tolist() == [1, 1, 4, 4, 2, 2]
    assert kcore(table(pairs), 2, users=False).movie_id.tolist() == [10, 40, 10, 40, 20, 30, 30, 20]


def test_repeated_pairs_count_as_rows_and_ids_are_kept() -> None:
    r = Ratings(
        [1, 1, 2],
        [5, 5, 5],
        [3, 4, 5],
        np.zeros(3, dtype="datetime64[D]"),
        user_source_ids=SourceIds(["a", "b"]),
    )
    core = kcore(r, 2, items=False)
    assert core.user_id.tolist() == [1, 1] and core.user_source_ids == r.user_source_ids
    assert core.source_user(1) == "a"


def test_sparse_large_ids_and_bad_k() -> None:
    r = table([(2_000_000_000, 1), (2_000_000_000, 2), (7, 1), (7, 2)])
    assert len(kcore(r, 2)) == 4 and len(kcore(r, 3)) == 0
    assert len(kcore(table([]), 5)) == 0
    with pytest.raises(TypeError):
        kcore(r, 2.5)  # type: ignore[arg-type]
