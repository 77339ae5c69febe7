"""Popularity on a hand-computed example."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data import Ratings
from llmrec.errors import ConfigError
from llmrec.recommenders import PopularityRecommender


def _ratings() -> Ratings:
    # movie 5: three ratings (5, 5, 1); movie 3: three (4, 4, 4);
    # movie 9: two (5, 5); movie 7: one (5)
    movies = [5, 5, 5, 3, 3, 3, 9, 9, 7]
    stars = [5, 5, 1, 4, 4, 4, 5, 5, 5]
    users = [1, 2, 3, 1, 2, 3, 1, 2, 4]
    return Ratings(users, movies, stars, np.zeros(len(users), dtype=np.int64))


def test_by_count_ranks_most_rated_first_ties_by_movie_id() -> None:
    model = PopularityRecommender().fit(_ratings())
    rec = model.recommend([], 10)
    assert rec.movie_ids == (3, 5, 9, 7)
    assert rec.scores == (3.0, 3.0, 2.0, 1.0)


def test_by_five_star_ties_by_count_then_movie_id() -> None:
    model = PopularityRecommender(by="five_star").fit(_ratings())
    rec = model.recommend([], 10)
    assert rec.movie_ids == (5, 9, 7, 3)
    assert rec.scores == (2.0, 2.0, 1.0, 0.0)


def test_profile_movies_are_skipped_and_k_respected() -> None:
    model = PopularityRecommender().fit(_ratings())
    assert model.recommend([3], 2).movie_ids == (5, 9)
    assert model.recommend([3, 5, 9], 2).movie_ids == (7,)
    many = model.recommend_many([[3], [9, 7], []], 2)
    assert [r.movie_ids for r in many] == [(5, 9), (3, 5), (3, 5)]


def test_unknown_by_rejected() -> None:
    with pytest.raises(ConfigError, match="by"):
        PopularityRecommender(by="stars")
