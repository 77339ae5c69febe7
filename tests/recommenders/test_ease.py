"""EASE: a hand-computed example and agreement with the closed form written in plain numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import Ratings
from llmrec.errors import ConfigError
from llmrec.recommenders import EASERecommender
from llmrec.recommenders.ease import ease_weights


def _ratings(pairs: list[tuple[int, int]], stars: list[int] | None = None) -> Ratings:
    users, movies = zip(*pairs, strict=True)
    return Ratings(users, movies, stars or [5] * len(pairs), np.zeros(len(pairs), dtype=np.int64))


# u1 rates A=1 and B=2, u2 rates A, u3 rates C=3. With λ = 1:
#   XᵀX + λI over (A, B) = [[3, 1], [1, 2]],  P = [[2, -1], [-1, 3]] / 5,
#   B_AB = -P_AB / P_BB = 1/3,  B_BA = -P_BA / P_AA = 1/2;  C shares no user, so B_AC = B_CA = 0.
HAND = [(1, 1), (1, 2), (2, 1), (3, 3)]


def test_hand_example() -> None:
    model = EASERecommender(l2=1.0).fit(_ratings(HAND))
    a_profile = model.recommend([1], 5)
    assert a_profile.movie_ids == (2, 3)
    assert a_profile.scores == pytest.approx([1 / 3, 0.0], abs=1e-7)
    b_profile = model.recommend([2], 5)
    assert b_profile.movie_ids == (1, 3)
    assert b_profile.scores == pytest.approx([1 / 2, 0.0], abs=1e-7)


def test_max_items_keeps_the_most_rated() -> None:
    # A has two ratings; B and C one each, so B (lower id) is kept and C dropped.
    model = EASERecommender(l2=1.0, max_items=2).fit(_ratings(HAND))
    assert model.recommend([1], 5).movie_ids == (2,)
    # C is not modelled: the profile carries no signal, the modelled movies rank by popularity.
    rec = model.recommend([3], 5)
    assert rec.movie_ids == (1, 2)
    assert rec.scores == (0.0, 0.0)


def test_min_rating_filters_interactions() -> None:
    # u1's rating of B is 1 star: with min_rating=2 A and B share no user any more.
    model = EASERecommender(l2=1.0, min_rating=2).fit(_ratings(HAND, [5, 1, 5, 5]))
    rec = model.recommend([1], 5)
    assert rec.scores == (0.0, 0.0)
    assert rec.movie_ids == (2, 3)


def test_invalid_options_rejected() -> None:
    with pytest.raises(ConfigError, match="l2"):
        EASERecommender(l2=0.0)
    with pytest.raises(ConfigError, match="max_items"):
        EASERecommender(max_items=0)


def _closed_form(x: np.ndarray, lam: float) -> np.ndarray:
    """Steck (2019), eq. 8, as written in the paper's reference code."""
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    b = p / (-np.diag(p))
    np.fill_diagonal(b, 0.0)
    return b


@given(
    x=st.lists(st.lists(st.integers(0, 1), min_size=6, max_size=6), min_size=1, max_size=12),
    lam=st.sampled_from([0.5, 1.0, 10.0, 500.0]),
)
def test_ease_weights_match_the_closed_form(x: list[list[int]], lam: float) -> None:
    mat = np.asarray(x, dtype=np.float64)
    got = ease_weights(mat.T @ mat, lam)
    assert got == pytest.approx(_closed_form(mat, lam), abs=1e-9)
    assert np.all(np.diag(got) == 0)


@given(
    pairs=st.lists(st.tuples(st.integers(1, 10), st.integers(1, 7)), min_size=1, max_size=40),
    profile=st.lists(st.integers(1, 8), max_size=3),
    lam=st.sampled_from([1.0, 20.0]),
    max_items=st.integers(1, 8),
)
def test_recommendations_match_a_dense_reference(
    pairs: list[tuple[int, int]], profile: list[int], lam: float, max_items: int
) -> None:
    ratings = _ratings(pairs)
    rec = EASERecommender(l2=lam, max_items=max_items).fit(ratings).recommend(profile, 20)
    movies, counts = np.unique(ratings.movie_id, return_counts=True)
    items = [int(m) for m in sorted(movies, key=lambda m: (-counts[movies == m][0], m))]
    items = items[:max_items]
    users = sorted({u for u, _ in pairs})
    x = np.zeros((len(users), len(items)))
    for u, m in pairs:
        if m in items:
            x[users.index(u), items.index(m)] = 1.0
    weights = _closed_form(x, lam)
    own = set(profile)
    scores = sum((weights[items.index(m)] for m in own if m in items), np.zeros(len(items)))
    expected = sorted(
        (j for j in range(len(items)) if items[j] not in own), key=lambda j: -scores[j]
    )
    assert rec.scores == pytest.approx([scores[j] for j in expected], abs=1e-5)
    for m, s in zip(rec.movie_ids, rec.scores, strict=True):
        assert scores[items.index(m)] == pytest.approx(s, abs=1e-5)


def test_ease_weights_in_place_equals_copying() -> None:
    rng = np.random.default_rng(3)
    x = (rng.random((30, 9)) < 0.3).astype(np.float64)
    gram = x.T @ x
    expected = ease_weights(gram, 2.0)
    assert np.array_equal(gram, x.T @ x)  # the copying form leaves its input alone
    assert ease_weights(gram, 2.0, overwrite=True) == pytest.approx(expected, abs=1e-12)
