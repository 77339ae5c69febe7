"""The users' runs in time order the protocols walk: every path (compact ids, sparse ids, the
two-sort fallback) against Python's stable ``sorted``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.data import Ratings
from llmrec.protocols._order import _packed_order, user_runs_in_time_order

ROWS = st.lists(
    st.tuples(st.sampled_from([3, 1, 2, 7, 10**9, 5]), st.integers(1, 50), st.integers(0, 4)),
    min_size=1,
    max_size=60,
)


def _reference(rows: list[tuple[int, int, int]], users_by: str) -> list[int]:
    """Row positions: users by id or by first appearance, then a stable sort on time."""
    first: dict[int, int] = {}
    for i, (u, _, _) in enumerate(rows):
        first.setdefault(u, i)
    rank = first if users_by == "first_appearance" else {u: u for u in first}
    return sorted(range(len(rows)), key=lambda i: (rank[rows[i][0]], rows[i][2]))


@settings(max_examples=80, deadline=None)
@given(rows=ROWS, users_by=st.sampled_from(["id", "first_appearance"]), sparse=st.booleans())
def test_runs_follow_a_stable_sort(rows: list, users_by: str, sparse: bool) -> None:
    if not sparse:  # compact ids only: the no-sort rank path
        rows = [(u if u < 100 else 4, m, t) for u, m, t in rows]
    u, m, t = (np.asarray(c) for c in zip(*rows, strict=True))
    ratings = Ratings(u, m, np.full(u.size, 3), t, time=t * 1000)
    order, starts, lengths = user_runs_in_time_order(ratings, users_by=users_by)  # type: ignore[arg-type]
    expected = _reference(rows, users_by)
    assert order.tolist() == expected
    assert lengths.sum() == len(rows) and starts.tolist() == (np.cumsum(lengths) - lengths).tolist()
    same = ratings.history_order(users="first_seen" if users_by == "first_appearance" else "id")
    assert same.tolist() == expected


def test_times_too_wide_to_pack_fall_back_to_two_sorts() -> None:
    users = (np.arange(5000) % 7 + 1) * 1000
    times = np.asarray([0, 2**60, 2**59, 2**60] * 1250)  # a span of 2**60 seconds: 61 bits
    ratings = Ratings(
        users, np.arange(5000) % 50 + 1, np.full(5000, 3), times // 86_400, time=times
    )
    rows = list(zip(users.tolist(), range(5000), times.tolist(), strict=True))
    for users_by in ("id", "first_appearance"):
        assert _packed_order(ratings, users_by) is None
        order, _, _ = user_runs_in_time_order(ratings, users_by=users_by)  # type: ignore[arg-type]
        assert order.tolist() == _reference(rows, users_by)
