"""Candidate ranking of the classic backends: exactly the full ranking restricted to the
candidates, whatever the presentation order or the batch; the generic fallback of the base."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmrec.data import Ratings
from llmrec.recommenders import Recommender, get_recommender
from llmrec.testing.contract import contract_data

BACKENDS = [
    ("popularity", {}),
    ("popularity", {"by": "five_star"}),
    ("itemknn", {}),
    ("itemknn", {"n_neighbours": 2, "shrinkage": 3.0, "weighting": "rating"}),
    ("ease", {"l2": 5.0}),
    ("ease", {"l2": 5.0, "max_items": 6}),
]


def _expected(model: Recommender, profile: tuple[int, ...], cands: tuple[int, ...]) -> list[int]:
    """The full-catalogue ranking filtered to the candidates, then the unscored ones by id."""
    full = model.recommend(profile, 10_000).movie_ids
    placed = [m for m in full if m in cands]
    return placed + sorted(set(cands) - set(placed))


@st.composite
def problems(draw: st.DrawFn) -> tuple[Ratings, list[tuple[int, ...]], list[tuple[int, ...]]]:
    n_movies = draw(st.integers(3, 25))
    n_users = draw(st.integers(2, 30))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(1, n_users), st.integers(1, n_movies)), min_size=1, max_size=200
        )
    )
    stars = draw(st.lists(st.integers(1, 5), min_size=len(pairs), max_size=len(pairs)))
    ratings = Ratings(
        [u for u, _ in pairs], [m for _, m in pairs], stars, np.zeros(len(pairs), np.int64)
    )
    pool = list(range(1, n_movies + 4))  # three movies nobody rated
    profiles, lists = [], []
    for _ in range(draw(st.integers(1, 6))):
        profile = tuple(draw(st.lists(st.sampled_from(pool), max_size=4, unique=True)))
        rest = [m for m in pool if m not in profile]
        cands = tuple(draw(st.permutations(rest))[: draw(st.integers(0, len(rest)))])
        profiles.append(profile)
        lists.append(cands)
    return ratings, profiles, lists


@pytest.mark.parametrize(("name", "options"), BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(), k=st.one_of(st.none(), st.integers(1, 6)))
def test_rank_many_is_the_full_ranking_filtered(
    name: str, options: dict[str, object], problem: tuple, k: int | None
) -> None:
    ratings, profiles, lists = problem
    model = get_recommender(name, **options).fit(ratings)
    got = model.rank_many(profiles, lists, k)
    for profile, cands, rec in zip(profiles, lists, got, strict=True):
        expected = _expected(model, profile, cands)
        assert list(rec.movie_ids) == expected[: len(cands) if k is None else k]
        # the presentation order does not matter to a score-based backend
        assert model.rank(profile, tuple(reversed(cands)), k) == rec


@pytest.mark.parametrize(("name", "options"), BACKENDS)
def test_scores_are_the_full_ranking_scores(name: str, options: dict[str, object]) -> None:
    ratings, catalog, _ = contract_data()
    model = get_recommender(name, **options).fit(ratings, catalog)
    profile, cands = (101, 109, 117), (102, 125, 110, 118, 124, 999_999, 103)
    full = model.recommend(profile, 1000)
    score_of = dict(zip(full.movie_ids, full.scores, strict=True))
    rec = model.rank(profile, cands)
    scored = [m for m in rec.movie_ids if m in score_of]
    assert [rec.scores[i] for i in range(len(scored))] == [score_of[m] for m in scored]
    unscored = [m for m in cands if m not in score_of]
    assert list(rec.movie_ids[len(scored) :]) == sorted(unscored)
    assert rec.diagnostics["n_unscored"] == len(unscored)
    low = min(0.0, rec.scores[len(scored) - 1]) - 1.0
    assert rec.scores[len(scored) :] == (low,) * len(unscored)


def test_generic_fallback_of_the_base_class() -> None:
    """A backend without its own _rank_many (the example plugin) ranks by its full list."""
    ratings, catalog, _ = contract_data()
    model = get_recommender("random-example", seed=3).fit(ratings, catalog)
    profile, cands = (101, 102), (124, 103, 125, 999, 110)
    rec = model.rank(profile, cands)
    assert list(rec.movie_ids) == _expected(model, profile, cands)
    assert rec.diagnostics == {"n_unscored": 2}
    assert model.rank(profile, cands, k=2).movie_ids == rec.movie_ids[:2]
