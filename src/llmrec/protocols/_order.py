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

    ``users_by="id"`` lists users in ascending id (:meth:`~llmrec.data.Ratings.history_order`);
    ``"first_appearance"`` in the order of their first rating in the table (TALLRec).
    """
    order = ratings.history_order()
    n = order.size
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return order, empty, empty
    users = np.asarray(ratings.user_id)[order]
    starts = np.flatnonzero(np.concatenate(([True], users[1:] != users[:-1]))).astype(np.int64)
    lengths = np.diff(np.append(starts, n)).astype(np.int64)
    if users_by == "first_appearance":
        first_row = np.minimum.reduceat(order, starts)  # each run's earliest row in the file
        runs = np.argsort(first_row, kind="stable")
        order = np.concatenate([order[starts[r] : starts[r] + lengths[r]] for r in runs.tolist()])
        lengths = lengths[runs]
        starts = (np.cumsum(lengths) - lengths).astype(np.int64)
    return order, starts, lengths
