"""Leakage checks catch every kind of leak they promise to, and pass on honest splits."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data.ratings import Ratings
from llmrec.errors import LeakageError
from llmrec.truth import (
    Example,
    LastNTruth,
    ProfileDataset,
    TimeSplitTruth,
    check_fitting_set,
    check_holdout,
)

DAY0 = np.datetime64("2003-01-01", "D")


def table() -> Ratings:
    """User 1 rates movies 1..6 on days 1..6; user 2 rates movies 1..3 on days 1..3."""
    users = [1] * 6 + [2] * 3
    movies = [1, 2, 3, 4, 5, 6, 1, 2, 3]
    days = [1, 2, 3, 4, 5, 6, 1, 2, 3]
    return Ratings(users, movies, [5] * 9, DAY0 + np.array(days, dtype="timedelta64[D]"))


def dataset(profile: tuple[int, ...], gold: tuple[int, ...]) -> ProfileDataset:
    return ProfileDataset([Example(user_id=1, profile=profile, gold=gold)])


def test_honest_split_passes() -> None:
    ratings = table()
    held = np.array([0, 0, 0, 0, 1, 1, 0, 0, 1], dtype=bool)
    check_holdout(dataset((1, 2), (6, 5)), ratings, held, not_after="held_out")
    check_holdout(dataset((1, 2), (6, 5)), ratings, held, not_after=DAY0 + 5)


def test_gold_in_profile_is_caught() -> None:
    held = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0], dtype=bool)
    with pytest.raises(LeakageError, match="gold movie 5 of user 1 is also in the user's profile"):
        check_holdout(dataset((5, 1), (6, 5)), table(), held)


def test_gold_in_history_is_caught() -> None:
    held = np.array([0, 0, 0, 0, 0, 1, 0, 0, 0], dtype=bool)  # movie 5 stays in history
    with pytest.raises(LeakageError, match="gold movie 5 of user 1 is also a history rating"):
        check_holdout(dataset((1,), (6, 5)), table(), held)


def test_history_later_than_held_out_is_caught() -> None:
    held = np.array([0, 0, 0, 1, 0, 1, 0, 0, 0], dtype=bool)  # day 5 kept, day 4 held out
    check_holdout(dataset((1,), (6, 4)), table(), held)  # no time rule: fine
    with pytest.raises(LeakageError, match="later than their earliest held-out"):
        check_holdout(dataset((1,), (6, 4)), table(), held, not_after="held_out")


def test_history_on_or_after_cutoff_is_caught() -> None:
    held = np.array([0, 0, 0, 0, 0, 1, 0, 0, 0], dtype=bool)
    with pytest.raises(LeakageError, match="not before the cutoff"):
        check_holdout(dataset((1,), (6,)), table(), held, not_after=DAY0 + 5)


def test_other_users_are_not_checked() -> None:
    ratings = table()
    ratings.date[8] = DAY0 + 9  # user 2 (not in the dataset) keeps a late rating in history
    held = np.array([0, 0, 0, 0, 0, 1, 0, 0, 0], dtype=bool)
    check_holdout(dataset((1,), (6,)), ratings, held, not_after=DAY0 + 6)
    two = ProfileDataset([Example(user_id=2, profile=(1,), gold=(9,))])
    with pytest.raises(LeakageError, match="user 2, movie 3, is dated 2003-01-10"):
        check_holdout(two, ratings, held, not_after=DAY0 + 6)


def test_builders_run_the_check_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    import llmrec.truth.holdout as holdout

    monkeypatch.setattr(holdout, "check_holdout", lambda *a, **k: calls.append(k["not_after"]))
    ratings = table()
    LastNTruth(n=2, n_users=None, min_five_star=1).build(ratings, progress=False)
    TimeSplitTruth(cutoff="2003-01-05", min_five_star=1).build(ratings, progress=False)
    LastNTruth(n=2, min_five_star=1, check_leakage=False).build(ratings, progress=False)
    assert calls == ["held_out", np.datetime64("2003-01-05")]


def test_fitting_set_check() -> None:
    ratings = table()
    truth = LastNTruth(n=2)
    check_fitting_set(truth.history(ratings, users=[1]), truth.held_out(ratings, users=[1]))
    with pytest.raises(LeakageError, match="user 1 for movie 5"):
        truth.check_fitting(ratings, ratings, users=[1])
    # the held-out ratings of users outside the test set may be used for fitting
    truth.check_fitting(truth.history(ratings, users=[1]), ratings, users=[1])
