"""``LastNTruth``: each user's ``n`` most recent ratings are held out.

Recency is the date, then the movie id: the latest rating has the largest date and, among
ratings of that day, the largest movie id, so the split is exact even when a user rated many
movies on one day (a quarter of Netflix ratings fall on a user's sign-up day). Users with ``n``
ratings or fewer have everything held out and no history (so they are not eligible with
``min_five_star`` above 0).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from llmrec.data.ratings import Ratings
from llmrec.truth._holdout_kernel import UserIndex, chunks, run_starts
from llmrec.truth.holdout import HoldoutConfig, HoldoutTruth

__all__ = ["LastNConfig", "LastNTruth", "last_n_mask"]


class LastNConfig(HoldoutConfig):
    """Parameters of :class:`LastNTruth`."""

    protocol: Literal["last_n"] = Field(default="last_n", description="Names the split rule.")
    n: int = Field(default=10, ge=1, description="Most recent ratings held out per user.")


def last_n_mask(ratings: Ratings, n: int) -> npt.NDArray[np.bool_]:
    """Whether each rating is among its user's ``n`` latest by (date, movie id).

    One sort of packed ``(user, -date, -movie)`` keys gives, per user, the ``n``-th latest
    (date, movie); a rating is held out when it is not earlier than that.
    """
    size = len(ratings)
    if size == 0:
        return np.zeros(0, dtype=bool)
    movies = ratings.movie_id
    m_min, m_max = int(movies.min()), int(movies.max())
    days = ratings.date
    d_min, d_max = int(days.min().astype(np.int64)), int(days.max().astype(np.int64))
    m_bits = max((m_max - m_min).bit_length(), 1)
    d_bits = max((d_max - d_min).bit_length(), 1)
    u_min, u_max = int(ratings.user_id.min()), int(ratings.user_id.max())
    low_bits = m_bits + d_bits
    dense_ids: npt.NDArray[np.int32] | None = None
    if (u_max - u_min).bit_length() + low_bits > 63:  # ids too spread out: dense ranks
        dense_ids = np.unique(ratings.user_id)
        u_min = 0
        if dense_ids.size.bit_length() + low_bits > 63:
            raise ValueError("ratings span too many dates and ids to pack in 63 bits")
    key = np.empty(size, dtype=np.int64)
    for a, b in chunks(size):
        u = ratings.user_id[a:b]
        dense = (
            np.searchsorted(dense_ids, u).astype(np.int64)
            if dense_ids is not None
            else u.astype(np.int64) - u_min
        )
        recency = ((d_max - days[a:b].astype(np.int64)) << m_bits) | (
            m_max - movies[a:b].astype(np.int64)
        )
        key[a:b] = (dense << low_bits) | recency
    key.sort()
    starts = run_starts(key, low_bits)
    counts = np.diff(np.append(starts, size))
    nth = key[starts + np.minimum(counts, n) - 1] & ((1 << low_bits) - 1)
    users = (key[starts] >> low_bits) + u_min
    if dense_ids is not None:
        users = dense_ids[users].astype(np.int64)
    del key
    held = np.empty(size, dtype=bool)
    index = UserIndex(users)
    for a, b in chunks(size):
        recency = ((d_max - days[a:b].astype(np.int64)) << m_bits) | (
            m_max - movies[a:b].astype(np.int64)
        )
        held[a:b] = recency <= nth[index(ratings.user_id[a:b])]
    return held


class LastNTruth(HoldoutTruth):
    """Gold = the relevant movies among each user's ``n`` most recent ratings."""

    config_class: ClassVar[type[HoldoutConfig]] = LastNConfig
    protocol: ClassVar[str] = "last_n"

    def held_mask(self, ratings: Ratings, **context: Any) -> npt.NDArray[np.bool_]:
        if context:
            raise TypeError(f"unexpected arguments: {sorted(context)}")
        n = self.config.n if isinstance(self.config, LastNConfig) else 10
        return np.asarray(last_n_mask(ratings, n), dtype=bool)

    def _not_after(self) -> str:
        return "held_out"
