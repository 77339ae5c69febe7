"""Leakage checks: no held-out rating may reach a profile, a history or a fitting set.

:func:`check_holdout` verifies a built holdout truth against the split it came from, without
trusting the builder: for every user of the dataset, no gold movie is in the profile, no gold
movie is among the user's history ratings, and (time-based splits) no history rating is dated
later than the user's earliest held-out rating (``not_after="held_out"``) or on or after a
cutoff (``not_after=<date>``). :func:`check_fitting_set` is the check an experiment runs before
fitting a backend: the fitting table holds none of the held-out ratings of the test users.

Both raise :class:`~llmrec.errors.LeakageError` naming the first offending user and movie.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from llmrec.data.ratings import Ratings
from llmrec.errors import LeakageError
from llmrec.truth._holdout_kernel import PairSet, UserIndex, chunks

if TYPE_CHECKING:
    from llmrec.truth.dataset import ProfileDataset

__all__ = ["check_fitting_set", "check_holdout"]

_NONE = np.iinfo(np.int64).max


def _pairs(users: npt.ArrayLike, movies: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """One int64 per (user, movie) pair of int32 ids."""
    u = np.asarray(users, dtype=np.int64)
    m = np.asarray(movies, dtype=np.int64) & 0xFFFFFFFF
    return (u << 32) | m


def _in_sorted(
    sorted_keys: npt.NDArray[np.int64], query: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    if sorted_keys.size == 0:
        return np.zeros(query.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, query), sorted_keys.size - 1)
    return np.asarray(sorted_keys[pos] == query)


def check_holdout(
    dataset: ProfileDataset,
    ratings: Ratings,
    held: npt.NDArray[np.bool_],
    *,
    not_after: str | np.datetime64 | None = None,
) -> None:
    """Verify a holdout truth built from ``ratings`` split by the mask ``held``.

    ``not_after`` is ``None`` (no time rule), ``"held_out"`` (no history rating of a user later
    than that user's earliest held-out rating: :class:`~llmrec.truth.LastNTruth`) or a date (every
    history rating of the dataset's users is earlier: :class:`~llmrec.truth.TimeSplitTruth`).
    """
    held = np.asarray(held, dtype=bool)
    if held.shape != (len(ratings),):
        raise ValueError(f"held mask has shape {held.shape}, expected ({len(ratings)},)")
    users = np.asarray(sorted({e.user_id for e in dataset}), dtype=np.int64)
    index = UserIndex(users)
    gold = PairSet(
        [e.user_id for e in dataset for _ in e.gold], [m for e in dataset for m in e.gold]
    )
    prof_user = np.asarray([e.user_id for e in dataset for _ in e.profile], dtype=np.int64)
    prof_movie = np.asarray([m for e in dataset for m in e.profile], dtype=np.int64)
    bad = np.flatnonzero(gold.find(prof_user, prof_movie) >= 0)
    if bad.size:
        u, m = int(prof_user[bad[0]]), int(prof_movie[bad[0]])
        raise LeakageError(f"gold movie {m} of user {u} is also in the user's profile")
    first_held = np.full(users.size, _NONE, dtype=np.int64)
    last_hist = np.full(users.size, -_NONE, dtype=np.int64)
    cutoff = None
    if not_after is not None and not_after != "held_out":
        cutoff = np.asarray(not_after).astype("datetime64[D]")
    for a, b in chunks(len(ratings)):
        uid = ratings.user_id[a:b]
        idx = index(uid)
        mine = idx >= 0
        hist = mine & ~held[a:b]
        rows = np.flatnonzero(hist)
        leaked = gold.find(uid[rows], ratings.movie_id[a:b][rows]) >= 0
        if leaked.any():
            r = a + int(rows[np.flatnonzero(leaked)[0]])
            raise LeakageError(
                f"gold movie {int(ratings.movie_id[r])} of user {int(ratings.user_id[r])} is "
                f"also a history rating (rated on {ratings.date[r]})"
            )
        if not_after is None:
            continue
        days = ratings.date[a:b].astype(np.int64)
        if cutoff is not None:
            late = np.flatnonzero(hist & (ratings.date[a:b] >= cutoff))
            if late.size:
                r = a + int(late[0])
                raise LeakageError(
                    f"history rating of user {int(ratings.user_id[r])}, movie "
                    f"{int(ratings.movie_id[r])}, is dated {ratings.date[r]}, not before the "
                    f"cutoff {cutoff}"
                )
            continue
        np.maximum.at(last_hist, idx[hist], days[hist])
        out = mine & held[a:b]
        np.minimum.at(first_held, idx[out], days[out])
    if not_after == "held_out":
        late = np.flatnonzero((first_held != _NONE) & (last_hist > first_held))
        if late.size:
            i = int(late[0])
            raise LeakageError(
                f"user {int(users[i])} has a history rating dated "
                f"{np.datetime64(int(last_hist[i]), 'D')}, later than their earliest held-out "
                f"rating ({np.datetime64(int(first_held[i]), 'D')})"
            )


def check_fitting_set(fitting: Ratings, held_out: Ratings) -> None:
    """Raise :class:`~llmrec.errors.LeakageError` if any (user, movie) pair of ``held_out``
    is rated in ``fitting``.

    ``held_out`` is what a truth withheld from the test users (``truth.held_out(ratings,
    users=test.user_ids)``); ``fitting`` is the table a backend is about to be fitted on.
    """
    keys = np.unique(_pairs(held_out.user_id, held_out.movie_id))
    if keys.size == 0:
        return
    for a, b in chunks(len(fitting)):
        found = _in_sorted(keys, _pairs(fitting.user_id[a:b], fitting.movie_id[a:b]))
        if found.any():
            r = a + int(np.flatnonzero(found)[0])
            raise LeakageError(
                f"the fitting set holds the held-out rating of user {int(fitting.user_id[r])} "
                f"for movie {int(fitting.movie_id[r])} (row {r}): fit on truth.history(...)"
            )
