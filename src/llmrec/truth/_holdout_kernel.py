"""The vectorised kernel shared by the holdout truths: one sort, then binary searches.

Every rating becomes one int64 key packing ``(user, held, 5 - rating, last day - date, movie)``
(each field offset to start at zero and given just the bits it needs). Sorting the keys in place
orders the table exactly as the rules need it: per user, the history before the held-out rows,
each part by rating (high first), date (recent first) and movie id (ascending). A user's profile
is the first rows of their history run and their gold the first rows of their held-out run, and
how many rows of a run reach a star threshold is one ``searchsorted`` per run, since the runs are
sorted. Nothing loops over users in Python except to wrap the final lists in ``Example``.

Memory: the key array (8 bytes a rating) plus chunk-sized temporaries; ``np.sort`` works in place.
When the fields do not fit in 63 bits (ids spread over the whole int32 range), users and movies
are first replaced by their dense ranks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec.data.ratings import Ratings

__all__ = [
    "CHUNK",
    "Layout",
    "PairSet",
    "Runs",
    "UserIndex",
    "chunks",
    "count_at_least",
    "gather",
    "pack",
    "run_starts",
    "user_lookup",
    "user_runs",
]

#: Rows handled at once by the chunked passes (bounds their temporaries to a few 100 MB).
CHUNK = 1 << 23

I64 = npt.NDArray[np.int64]


def chunks(n: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    """``[a, b)`` ranges covering ``0 .. n`` in steps of ``size``."""
    for a in range(0, n, size):
        yield a, min(n, a + size)


def _bits(span: int) -> int:
    return max(int(span).bit_length(), 1)


@dataclass(frozen=True)
class Layout:
    """Where each field sits in a packed key, and the offsets that make it non-negative.

    ``users``/``movies`` hold the dense-rank tables when ids were remapped (else ``None``).
    """

    s_movie: int
    s_date: int
    s_rating: int
    s_held: int
    s_user: int
    movie_min: int
    day_max: int
    rating_max: int
    user_min: int
    users: npt.NDArray[np.int32] | None = None
    movies: npt.NDArray[np.int32] | None = None

    def user(self, key: I64) -> npt.NDArray[np.int64]:
        raw = (key >> self.s_user) + self.user_min
        return raw if self.users is None else self.users[raw].astype(np.int64)

    def movie(self, key: I64) -> npt.NDArray[np.int64]:
        raw = (key & ((1 << self.s_date) - 1)) + self.movie_min
        return raw if self.movies is None else self.movies[raw].astype(np.int64)

    def day(self, key: I64) -> npt.NDArray[np.int64]:
        return self.day_max - ((key >> self.s_date) & ((1 << (self.s_rating - self.s_date)) - 1))

    def rating_offset(self, stars: int) -> int:
        """The packed rating field of ``stars`` (higher stars, smaller field)."""
        return self.rating_max - stars


def _layout(
    ratings: Ratings, users: npt.NDArray[np.int32] | None, movies: npt.NDArray[np.int32] | None
) -> Layout:
    n = len(ratings)
    if n == 0:
        return Layout(1, 2, 3, 4, 5, 0, 0, 0, 0, users, movies)
    if users is not None:
        u_min, u_span = 0, users.size - 1
    else:
        u_min = int(ratings.user_id.min())
        u_span = int(ratings.user_id.max()) - u_min
    if movies is not None:
        m_min, m_span = 0, movies.size - 1
    else:
        m_min = int(ratings.movie_id.min())
        m_span = int(ratings.movie_id.max()) - m_min
    days = ratings.date.astype(np.int64)
    d_min, d_max = int(days.min()), int(days.max())
    r_min, r_max = int(ratings.rating.min()), int(ratings.rating.max())
    s_date = _bits(m_span)
    s_rating = s_date + _bits(d_max - d_min)
    s_held = s_rating + _bits(r_max - r_min)
    s_user = s_held + 1
    if s_user + _bits(u_span) > 63:
        return Layout(0, 0, 0, 0, 64, m_min, d_max, r_max, u_min, users, movies)
    return Layout(0, s_date, s_rating, s_held, s_user, m_min, d_max, r_max, u_min, users, movies)


def pack(ratings: Ratings, held: npt.NDArray[np.bool_]) -> tuple[I64, Layout]:
    """The sorted packed keys of ``ratings`` with the held-out flags ``held`` (original order)."""
    layout = _layout(ratings, None, None)
    remap_users: npt.NDArray[np.int32] | None = None
    remap_movies: npt.NDArray[np.int32] | None = None
    if layout.s_user >= 64:  # ids too spread out: use dense ranks instead
        remap_users = np.unique(ratings.user_id)
        remap_movies = np.unique(ratings.movie_id)
        layout = _layout(ratings, remap_users, remap_movies)
        if layout.s_user >= 64:
            raise ValueError("ratings span too many dates and ids to pack in 63 bits")
    key = np.empty(len(ratings), dtype=np.int64)
    for a, b in chunks(len(ratings)):
        u = ratings.user_id[a:b]
        m = ratings.movie_id[a:b]
        ui = (
            np.searchsorted(remap_users, u).astype(np.int64)
            if remap_users is not None
            else u.astype(np.int64) - layout.user_min
        )
        mi = (
            np.searchsorted(remap_movies, m).astype(np.int64)
            if remap_movies is not None
            else m.astype(np.int64) - layout.movie_min
        )
        k = ui << layout.s_user
        k |= held[a:b].astype(np.int64) << layout.s_held
        k |= (layout.rating_max - ratings.rating[a:b].astype(np.int64)) << layout.s_rating
        k |= (layout.day_max - ratings.date[a:b].astype(np.int64)) << layout.s_date
        k |= mi
        key[a:b] = k
    key.sort()
    return key, layout


def run_starts(key: I64, shift: int) -> I64:
    """Start positions of the runs of equal ``key >> shift`` in the sorted ``key`` (with 0)."""
    out = [np.zeros(1 if key.size else 0, dtype=np.int64)]
    for a, b in chunks(key.size):
        lo = max(a - 1, 0)
        part = key[lo:b] >> shift
        change = np.flatnonzero(part[1:] != part[:-1]) + lo + 1
        out.append(change.astype(np.int64))
    return np.concatenate(out)


@dataclass(frozen=True)
class Runs:
    """Per user: where the history and the held-out rows start in the sorted keys, and counts."""

    users: npt.NDArray[np.int64]
    hist_start: I64
    n_hist: I64
    held_start: I64
    n_held: I64


def user_runs(key: I64, layout: Layout) -> Runs:
    """Split the sorted keys into one history run and one held-out run per user."""
    seg = run_starts(key, layout.s_held)
    if seg.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Runs(empty, empty, empty, empty, empty)
    ends = np.append(seg[1:], key.size)
    head = key[seg]
    seg_user = head >> layout.s_user
    seg_held = ((head >> layout.s_held) & 1).astype(bool)
    first = np.ones(seg.size, dtype=bool)
    first[1:] = seg_user[1:] != seg_user[:-1]
    u_idx = np.cumsum(first) - 1
    n_users = int(u_idx[-1]) + 1
    hist_start = np.zeros(n_users, dtype=np.int64)
    n_hist = np.zeros(n_users, dtype=np.int64)
    held_start = np.zeros(n_users, dtype=np.int64)
    n_held = np.zeros(n_users, dtype=np.int64)
    h = ~seg_held
    hist_start[u_idx[h]] = seg[h]
    n_hist[u_idx[h]] = (ends - seg)[h]
    held_start[u_idx[seg_held]] = seg[seg_held]
    n_held[u_idx[seg_held]] = (ends - seg)[seg_held]
    # users with no history / no held-out rows: an empty run at the other run's edge
    no_hist = n_hist == 0
    starts_of_user = seg[first]
    hist_start[no_hist] = starts_of_user[no_hist]
    no_held = n_held == 0
    held_start[no_held] = hist_start[no_held] + n_hist[no_held]
    users = layout.user(head[first])
    return Runs(users, hist_start, n_hist, held_start, n_held)


def count_at_least(
    key: I64, layout: Layout, start: I64, length: I64, stars: int
) -> npt.NDArray[np.int64]:
    """Rows rated at least ``stars`` at the top of each sorted run ``[start, start + length)``.

    Within a run the rating field grows as stars fall, so the rows that qualify are those below
    the key with the run's user and held bits and the rating field ``rating_max - stars + 1``.
    """
    field = layout.rating_max - stars + 1
    if start.size == 0 or field <= 0:
        return np.zeros(start.size, dtype=np.int64)
    if field >= 1 << (layout.s_held - layout.s_rating):
        return length.astype(np.int64)
    head = key[np.minimum(start, max(key.size - 1, 0))]
    limit = ((head >> layout.s_held) << layout.s_held) | (np.int64(field) << layout.s_rating)
    found: I64 = np.searchsorted(key, limit, side="left").astype(np.int64)
    counts: I64 = np.clip(found - start, 0, length).astype(np.int64)
    counts[length == 0] = 0
    return counts


def gather(start: I64, count: I64) -> tuple[I64, I64]:
    """Positions ``start[i] + 0 .. count[i]-1`` for every ``i``, and the offsets (CSR pointer)."""
    ptr = np.zeros(count.size + 1, dtype=np.int64)
    np.cumsum(count, out=ptr[1:])
    total = int(ptr[-1])
    pos = np.repeat(start - ptr[:-1], count) + np.arange(total, dtype=np.int64)
    return pos, ptr


class UserIndex:
    """Positions of user ids in a sorted array of distinct ids: a direct table when the ids'
    span is small (every Netflix id fits in 2.7M slots), binary search otherwise."""

    def __init__(self, users: npt.ArrayLike) -> None:
        self.users = np.asarray(users, dtype=np.int64)
        self._table: npt.NDArray[np.int64] | None = None
        self._lo = 0
        if self.users.size:
            lo, hi = int(self.users[0]), int(self.users[-1])
            if hi - lo <= max(1 << 26, 4 * self.users.size):
                self._lo = lo
                self._table = np.full(hi - lo + 1, -1, dtype=np.int64)
                self._table[self.users - lo] = np.arange(self.users.size)

    def __call__(self, query: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The position of each queried id, ``-1`` where it is not present."""
        q = np.asarray(query).astype(np.int64)
        if self.users.size == 0 or q.size == 0:
            return np.full(q.shape, -1, dtype=np.int64)
        if self._table is not None:
            q -= self._lo
            if int(q.min()) >= 0 and int(q.max()) < self._table.size:
                return self._table[q]
            inside = (q >= 0) & (q < self._table.size)
            out = np.full(q.shape, -1, dtype=np.int64)
            out[inside] = self._table[q[inside]]
            return out
        pos = np.minimum(np.searchsorted(self.users, q), self.users.size - 1)
        return np.where(self.users[pos] == q, pos, -1)


def user_lookup(
    users: npt.NDArray[np.int64], values: npt.ArrayLike, query: npt.NDArray[np.int32], fill: int
) -> npt.NDArray[np.int64]:
    """``values[i]`` where ``query == users[i]`` (``users`` sorted), ``fill`` elsewhere."""
    idx = UserIndex(users)(query)
    vals = np.asarray(values, dtype=np.int64)
    return np.where(idx >= 0, vals[np.maximum(idx, 0)] if vals.size else fill, fill)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_OTHER = np.uint64(0xC2B2AE3D27D4EB4F)


class PairSet:
    """A set of (user, movie) pairs answering membership for many pairs at once.

    A one-hash Bloom filter (64 bits per pair, so about 1.5 % false positives) rejects almost
    every query with one multiply and one byte gather; only the survivors are looked up exactly,
    by binary search over the sorted pair keys. Built for a few million pairs (a probe set, the
    gold lists) queried by a hundred million ratings.
    """

    def __init__(self, users: npt.ArrayLike, movies: npt.ArrayLike) -> None:
        u = np.asarray(users, dtype=np.int64)
        m = np.asarray(movies, dtype=np.int64)
        keys = (u << 32) | (m & 0xFFFFFFFF)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.bits_log2 = max(16, int(64 * max(u.size, 1) - 1).bit_length())
        self.bloom = np.zeros(1 << (self.bits_log2 - 3), dtype=np.uint8)
        slot = self._slot(u, m)
        np.bitwise_or.at(self.bloom, slot >> 3, (1 << (slot & 7)).astype(np.uint8))

    @property
    def users_sorted(self) -> I64:
        return self.keys >> 32

    @property
    def movies(self) -> I64:
        return self.keys & 0xFFFFFFFF

    def _slot(self, users: npt.NDArray[Any], movies: npt.NDArray[Any]) -> I64:
        with np.errstate(over="ignore"):
            h = users.astype(np.uint64) * _GOLDEN
            h ^= (movies.astype(np.int64) & 0xFFFFFFFF).astype(np.uint64) * _OTHER
            h ^= h >> np.uint64(29)
            h *= _GOLDEN
        return (h >> np.uint64(64 - self.bits_log2)).astype(np.int64)

    def find(self, users: npt.ArrayLike, movies: npt.ArrayLike) -> I64:
        """For each queried pair, the position (in the order given) of an equal pair, or -1."""
        pos = self.find_sorted(users, movies)
        hit = pos >= 0
        pos[hit] = self.order[pos[hit]]
        return pos

    def find_sorted(self, users: npt.ArrayLike, movies: npt.ArrayLike) -> I64:
        """For each queried pair, the first position of an equal key in ``keys``, or -1."""
        qu = np.asarray(users)
        qm = np.asarray(movies)
        out = np.full(qu.shape, -1, dtype=np.int64)
        if self.keys.size == 0 or qu.size == 0:
            return out
        slot = self._slot(qu, qm)
        maybe = np.flatnonzero((self.bloom[slot >> 3] >> (slot & 7).astype(np.uint8)) & 1)
        keys = (qu[maybe].astype(np.int64) << 32) | (qm[maybe].astype(np.int64) & 0xFFFFFFFF)
        pos = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        hit = self.keys[pos] == keys
        out[maybe[hit]] = pos[hit]
        return out
