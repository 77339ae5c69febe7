"""Users' runs of ratings in time order, as the peers' scripts walk them.

TALLRec, LLaRA and LLMRank (through RecBole) sort each user's interactions by timestamp with a
stable sort, so ratings of the same second keep their order in the source file: that is
:meth:`llmrec.data.Ratings.history_order`. TALLRec also walks the users in the order of their
first rating in the file (a Python dict's insertion order), which ``users_by`` selects.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from llmrec.data.ratings import Ratings

__all__ = ["clock", "user_runs_in_time_order"]

_I64 = npt.NDArray[np.int64]


def clock(ratings: Ratings) -> tuple[_I64, Literal["s", "D"]]:
    """Each rating's moment as an integer and its unit: ``time`` in Unix seconds when the table
    has it, else ``date`` in days since 1970 (ties are then whole days)."""
    if ratings.time is not None:
        return np.asarray(ratings.time).astype("datetime64[s]").astype(np.int64), "s"
    return np.asarray(ratings.date).astype("datetime64[D]").astype(np.int64), "D"


def user_runs_in_time_order(
    ratings: Ratings, *, users_by: Literal["id", "first_appearance"] = "id"
) -> tuple[_I64, _I64, _I64]:
    """Row positions grouping each user's ratings in time order (ties in file order), and the
    start and length of each user's run in that order.

    ``users_by="id"`` lists users in ascending id, ``"first_appearance"`` in the order of their
    first rating in the table (TALLRec): :meth:`~llmrec.data.Ratings.history_order`'s orders,
    found with one sort of packed keys where they fit in 63 bits.
    """
    n = len(ratings)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    order = _packed_order(ratings, users_by)
    if order is None:  # keys too wide to pack: two stable sorts
        order = ratings.history_order(users="id" if users_by == "id" else "first_seen")
    users = np.asarray(ratings.user_id)[order]
    starts = np.flatnonzero(np.concatenate(([True], users[1:] != users[:-1]))).astype(np.int64)
    lengths = np.diff(np.append(starts, n)).astype(np.int64)
    return order, starts, lengths


def _user_rank(ratings: Ratings, users_by: str) -> tuple[_I64, int]:
    """Each rating's user as a rank that orders users by id or by first appearance, and one
    more than the largest rank. Ids in a compact range need no sort."""
    user = np.asarray(ratings.user_id).astype(np.int64)
    n = user.size
    low, high = int(user.min()), int(user.max())
    if high - low > 4 * n:  # sparse ids: a dense rank through a sort
        ids, first, inverse = np.unique(user, return_index=True, return_inverse=True)
        if users_by == "id":
            return inverse.astype(np.int64), int(ids.size)
        rank = np.empty(ids.size, dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(ids.size, dtype=np.int64)
        return rank[inverse], int(ids.size)
    offset = user - low
    if users_by == "id":
        return offset, high - low + 1
    first = np.full(high - low + 1, n, dtype=np.int64)
    np.minimum.at(first, offset, np.arange(n, dtype=np.int64))
    is_first = np.zeros(n, dtype=bool)
    is_first[first[first < n]] = True
    rank_of_row = np.cumsum(is_first) - 1  # the rank of the user first seen at each row
    return rank_of_row[first[offset]], int(is_first.sum())


def _packed_order(ratings: Ratings, users_by: str) -> _I64 | None:
    """One stable argsort of ``(user rank, moment)`` packed into an int64, or ``None`` when
    the two do not fit in 63 bits."""
    when, _ = clock(ratings)
    low = int(when.min())
    span = int(when.max()) - low
    rank, n_users = _user_rank(ratings, users_by)
    time_bits = max(span.bit_length(), 1)
    if max(n_users - 1, 1).bit_length() + time_bits > 63:
        return None
    key = (rank << np.int64(time_bits)) | (when - np.int64(low))
    return np.argsort(key, kind="stable").astype(np.int64)
