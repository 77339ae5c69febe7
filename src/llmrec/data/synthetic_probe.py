"""``probe.txt`` and ``qualifying.txt`` for the synthetic data, drawn the way the Prize drew them.

Netflix built its hidden sets from each customer's most recent ratings: up to nine per customer,
assigned at random to the probe set (about a third; their ratings stay in the training files)
and to the qualifying set (the rest; their ratings were withheld). The generator does the same
on its own ratings, in one pass of numpy:

* each user's recent window is their ``min(9, n // 2)`` latest ratings (by date, then movie id);
* each window slot goes to the probe set with probability 1/3: the probe pair is that rating,
  which stays in ``combined_data_*.txt`` exactly as before;
* each other slot becomes one qualifying triple: a movie the user never rated (drawn by
  popularity, distinct per user) dated uniformly between the window's first day and the user's
  last, so it interleaves with the probe ratings in time. Its rating is never written anywhere,
  so no qualifying rating is in the training files. (Where a real qualifying rating was removed
  from the user's ratings, the generator adds one instead; the training files, and everything
  built from them, stay byte for byte what they were.)

Both files list movies in id order, ``N:`` then one ``CustomerID`` (probe) or
``CustomerID,YYYY-MM-DD`` (qualifying) line per pair, customers ascending; same seed, same bytes.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from llmrec.data._netflix_format import FIRST_DAY

__all__ = [
    "HIDDEN_WINDOW",
    "PROBE_SHARE",
    "Hidden",
    "draw_hidden",
    "probe_bytes",
    "qualifying_bytes",
]

#: The most recent ratings per user that form the hidden set (probe + qualifying).
HIDDEN_WINDOW = 9
#: Share of the hidden slots that go to the probe set (1.41M of 4.23M in the Prize).
PROBE_SHARE = 1 / 3
_ROUNDS = 8
_I64 = npt.NDArray[np.int64]


class Hidden(NamedTuple):
    """Probe pairs and qualifying triples, sorted by movie then customer."""

    probe_movie: _I64
    probe_user: _I64
    qual_movie: _I64
    qual_user: _I64
    qual_day: _I64  # days after FIRST_DAY


def _sorted_runs(key: _I64, shift: int) -> tuple[_I64, _I64]:
    """Start and length of each run of equal ``key >> shift`` in the sorted ``key``."""
    head = key >> shift
    starts = np.flatnonzero(np.concatenate(([True], head[1:] != head[:-1])))
    return starts, np.diff(np.append(starts, key.size))


def draw_hidden(
    customer: _I64, movie: _I64, days: _I64, n_movies: int, rng: np.random.Generator
) -> Hidden:
    """The probe and qualifying sets of generated ratings (any row order; 1-based movie ids)."""
    m_bits = max(int(n_movies).bit_length(), 1)
    d_bits = max(int(days.max(initial=0)).bit_length(), 1)
    low = m_bits + d_bits
    d_max = (1 << d_bits) - 1
    key = (customer.astype(np.int64) << low) | ((d_max - days) << m_bits) | (n_movies - movie)
    key.sort()
    starts, counts = _sorted_runs(key, low)
    users = key[starts] >> low
    window = np.minimum(HIDDEN_WINDOW, counts // 2)
    slot_user = np.repeat(np.arange(users.size), window)
    offset = np.arange(slot_user.size) - np.repeat(np.cumsum(window) - window, window)
    slot_key = key[np.repeat(starts, window) + offset]
    del key
    slot_movie = n_movies - (slot_key & ((1 << m_bits) - 1))
    slot_day = d_max - ((slot_key >> m_bits) & d_max)
    is_probe = rng.random(slot_user.size) < PROBE_SHARE
    last_day = np.zeros(users.size, dtype=np.int64)
    first_day = np.zeros(users.size, dtype=np.int64)
    has = window > 0
    ends = np.cumsum(window)
    last_day[has] = slot_day[(ends - window)[has]]
    first_day[has] = slot_day[ends[has] - 1]
    # qualifying: one new (movie, day) per non-probe slot, never a movie the user rated
    rated = (customer.astype(np.int64) << 32) | movie
    rated.sort()
    q_user = slot_user[~is_probe]
    q_movie = _new_movies(users, q_user, rated, movie, n_movies, rng)
    placed = q_movie > 0
    q_user, q_movie = q_user[placed], q_movie[placed]
    span = last_day[q_user] - first_day[q_user] + 1
    q_day = first_day[q_user] + np.floor(rng.random(q_user.size) * span).astype(np.int64)
    p_order = np.lexsort((users[slot_user[is_probe]], slot_movie[is_probe]))
    q_order = np.lexsort((users[q_user], q_movie))
    return Hidden(
        slot_movie[is_probe][p_order],
        users[slot_user[is_probe]][p_order],
        q_movie[q_order],
        users[q_user][q_order],
        q_day[q_order],
    )


def _new_movies(
    users: _I64,
    q_user: _I64,
    rated: _I64,
    movie: _I64,
    n_movies: int,
    rng: np.random.Generator,
) -> _I64:
    """A distinct unrated movie per slot (by popularity), 0 where the user rated them all."""
    out = np.zeros(q_user.size, dtype=np.int64)
    cum = np.cumsum(np.bincount(movie, minlength=n_movies + 1)[1:]).astype(np.float64)
    pending = np.arange(q_user.size)
    chosen = np.zeros(0, dtype=np.int64)
    for rnd in range(2 * _ROUNDS + 1):
        if pending.size == 0:
            break
        if rnd < _ROUNDS:  # by popularity, as the generator draws movies
            draw = 1 + np.searchsorted(cum, rng.random(pending.size) * cum[-1], side="right")
            draw = np.minimum(draw, n_movies)
        elif rnd < 2 * _ROUNDS:  # heavy raters: uniform
            draw = 1 + rng.integers(n_movies, size=pending.size)
        else:  # the last few: exactly among the movies the user has not rated or been given
            draw = np.zeros(pending.size, dtype=np.int64)
            for i, slot in enumerate(pending.tolist()):
                u = int(users[q_user[slot]])
                lo, hi = np.searchsorted(rated, [u << 32, (u + 1) << 32])
                mine = rated[lo:hi] & 0xFFFFFFFF
                given = chosen[(chosen >> 32) == u] & 0xFFFFFFFF
                free = np.setdiff1d(np.arange(1, n_movies + 1), np.concatenate([mine, given]))
                draw[i] = int(rng.choice(free)) if free.size else 0
                if draw[i]:
                    chosen = np.union1d(chosen, [(u << 32) | int(draw[i])])
            out[pending] = draw
            break
        keys = (users[q_user[pending]] << 32) | draw
        pos = np.minimum(np.searchsorted(rated, keys), max(rated.size - 1, 0))
        ok = rated[pos] != keys
        if chosen.size:
            cpos = np.minimum(np.searchsorted(chosen, keys), chosen.size - 1)
            ok &= chosen[cpos] != keys
        _, first = np.unique(keys, return_index=True)
        once = np.zeros(keys.size, dtype=bool)
        once[first] = True
        ok &= once
        out[pending[ok]] = draw[ok]
        chosen = np.union1d(chosen, keys[ok])
        pending = pending[~ok]
    return out


def _blocks(movie: _I64, lines: list[str]) -> bytes:
    parts: list[str] = []
    starts: list[int] = []
    if movie.size:
        starts = np.flatnonzero(np.concatenate(([True], movie[1:] != movie[:-1]))).tolist()
    bounds = [*starts, int(movie.size)]
    for a, b in itertools.pairwise(bounds):
        parts.append(f"{int(movie[a])}:\n")
        parts.extend(lines[a:b])
    return "".join(parts).encode("ascii")


def probe_bytes(hidden: Hidden) -> bytes:
    """``probe.txt``: ``N:`` then ``CustomerID`` lines."""
    return _blocks(hidden.probe_movie, [f"{u}\n" for u in hidden.probe_user.tolist()])


def qualifying_bytes(hidden: Hidden) -> bytes:
    """``qualifying.txt``: ``N:`` then ``CustomerID,YYYY-MM-DD`` lines."""
    dates = (FIRST_DAY + hidden.qual_day.astype("timedelta64[D]")).astype(str).tolist()
    lines = [f"{u},{d}\n" for u, d in zip(hidden.qual_user.tolist(), dates, strict=True)]
    return _blocks(hidden.qual_movie, lines)
