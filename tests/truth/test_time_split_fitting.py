"""A global time split fits on the past only, for every user (issue 26, item 4).

A movie released after the cutoff is rated only in the held-out period. Fitting on every rating
of the non-test users would make it the most popular movie for every test user: its hit@1 would
be perfect, with nothing of the past to earn it.
"""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data.ratings import Ratings
from llmrec.errors import LeakageError
from llmrec.experiment.config.truth import TimeSplitTruthSpec
from llmrec.experiment.truths import check_fitting, fitting_ratings
from llmrec.recommenders.popularity import PopularityRecommender
from llmrec.truth import TimeSplitTruth

CUTOFF = np.datetime64("2005-06-01", "D")
NEW_MOVIE = 99  # exists only after the cutoff


def _ratings() -> tuple[Ratings, list[int]]:
    """Users 1-6 rate movies 1-8 before the cutoff (movies 1-3 most); users 1-12 rate movie
    99 after it. Users 1-2 are the test users."""
    rows: list[tuple[int, int, int, np.datetime64]] = []
    for u in range(1, 7):
        for m in range(1, 9):
            if m <= u + 2 or m == 1:
                rows.append((u, m, 5, CUTOFF - 30 - m))
    for u in range(1, 13):  # users 7-12 join after the cutoff
        rows.append((u, NEW_MOVIE, 5, CUTOFF + u))
    users, movies, stars, dates = zip(*rows, strict=True)
    return Ratings(users, movies, stars, np.asarray(dates, dtype="datetime64[D]")), [1, 2]


def test_history_of_a_time_split_is_the_past_of_every_user() -> None:
    ratings, test = _ratings()
    truth = TimeSplitTruth(cutoff="2005-06-01")
    history = truth.history(ratings, users=test)
    assert len(history) > 0
    assert (history.date < CUTOFF).all()
    assert NEW_MOVIE not in set(history.movie_id.tolist())
    assert len(history) == int(np.sum(ratings.date < CUTOFF))


def test_a_movie_of_the_future_does_not_top_popularity() -> None:
    ratings, test = _ratings()
    spec = TimeSplitTruthSpec(cutoff="2005-06-01")
    fitting = fitting_ratings(spec, ratings, test)
    check_fitting(spec, fitting, ratings, test)
    top = PopularityRecommender().fit(fitting).recommend((), k=1).movie_ids
    assert top == (1,)


def test_the_leakage_check_catches_other_users_future() -> None:
    """The set the runner used to fit on (the test users' past, everyone else's everything)
    holds no held-out rating of a test user, yet sees the future: the check refuses it."""
    ratings, test = _ratings()
    spec = TimeSplitTruthSpec(cutoff="2005-06-01")
    old = ratings.take(~(np.isin(ratings.user_id, test) & (ratings.date >= CUTOFF)))
    with pytest.raises(LeakageError, match="cutoff"):
        check_fitting(spec, old, ratings, test)
    with pytest.raises(LeakageError, match="cutoff"):
        TimeSplitTruth(cutoff="2005-06-01").check_fitting(old, ratings, users=test)
