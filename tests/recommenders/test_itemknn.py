"""Item-kNN: a hand-computed example, and agreement with a brute-force reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import Ratings
from llmrec.errors import ConfigError
from llmrec.recommenders import ItemKNNRecommender

# 4 users × 5 movies, binary:
#   u1: 10 20 30    u2: 10 20    u3: 20 30 40    u4: 40 50
# Rating counts: 20 → 3; 10, 30, 40 → 2; 50 → 1, so popularity order is 20, 10, 30, 40, 50.
# Cosines: 10-20 = 2/√6, 10-30 = 1/2, 20-30 = 2/√6, 20-40 = 1/√6, 30-40 = 1/2, 40-50 = 1/√2,
# every other pair 0.
HAND = {1: [10, 20, 30], 2: [10, 20], 3: [20, 30, 40], 4: [40, 50]}
C_10_20 = 2 / math.sqrt(6)
C_20_40 = 1 / math.sqrt(6)
C_40_50 = 1 / math.sqrt(2)


def _hand_ratings(stars: dict[tuple[int, int], int] | None = None) -> Ratings:
    users, movies, ratings = [], [], []
    for u, ms in HAND.items():
        for m in ms:
            users.append(u)
            movies.append(m)
            ratings.append((stars or {}).get((u, m), 4))
    return Ratings(users, movies, ratings, np.zeros(len(users), dtype=np.int64))


def test_hand_example_scores_sum_over_the_profile() -> None:
    model = ItemKNNRecommender().fit(_hand_ratings())
    rec = model.recommend([10, 40], 5)
    assert rec.movie_ids == (20, 30, 50)
    assert rec.scores == pytest.approx([C_10_20 + C_20_40, 0.5 + 0.5, C_40_50], rel=1e-6)


def test_hand_example_zero_scores_fill_in_popularity_order() -> None:
    model = ItemKNNRecommender().fit(_hand_ratings())
    rec = model.recommend([10], 4)
    assert rec.movie_ids == (20, 30, 40, 50)
    assert rec.scores == pytest.approx([C_10_20, 0.5, 0.0, 0.0], rel=1e-6)


def test_hand_example_equal_scores_rank_by_popularity() -> None:
    # From 30: 20 scores 2/√6; 10 and 40 both score 1/2 and both have two ratings, so the lower
    # movie id comes first; 50 fills at 0.
    model = ItemKNNRecommender().fit(_hand_ratings())
    rec = model.recommend([30], 4)
    assert rec.movie_ids == (20, 10, 40, 50)
    assert rec.scores == pytest.approx([C_10_20, 0.5, 0.5, 0.0], rel=1e-6)


def test_hand_example_one_neighbour_per_item() -> None:
    # Top-1 neighbours: 10 → 20; 20 → 10 (tied with 30; 10 is earlier in popularity order);
    # 30 → 20; 40 → 50; 50 → 40.
    model = ItemKNNRecommender(n_neighbours=1).fit(_hand_ratings())
    rec = model.recommend([10, 40], 3)
    assert rec.movie_ids == (20, 50, 30)
    assert rec.scores == pytest.approx([C_10_20, C_40_50, 0.0], rel=1e-6)
    assert model.recommend([20], 4).movie_ids == (10, 30, 40, 50)


def test_hand_example_shrinkage() -> None:
    # sim = co-count / (‖i‖‖j‖ + 1): 40-50 = 1/(√2+1), 30-40 = 1/3, 20-40 = 1/(√6+1).
    model = ItemKNNRecommender(shrinkage=1.0).fit(_hand_ratings())
    rec = model.recommend([40], 3)
    assert rec.movie_ids == (50, 30, 20)
    expected = [1 / (math.sqrt(2) + 1), 1 / 3, 1 / (math.sqrt(6) + 1)]
    assert rec.scores == pytest.approx(expected, rel=1e-6)


def test_min_rating_drops_low_ratings_from_the_similarity() -> None:
    # u3 rates 20 with 2 stars: with min_rating=3, 20-30 and 20-40 lose u3.
    model = ItemKNNRecommender(min_rating=3).fit(_hand_ratings({(3, 20): 2}))
    rec = model.recommend([40], 4)
    # 40's co-raters: 30 (u3) and 50 (u4); ‖20‖ = √2 now and 20-40 = 0.
    assert rec.movie_ids == (50, 30, 20, 10)
    assert rec.scores == pytest.approx([C_40_50, 0.5, 0.0, 0.0], rel=1e-6)


def test_invalid_options_rejected() -> None:
    with pytest.raises(ConfigError, match="n_neighbours"):
        ItemKNNRecommender(n_neighbours=0)
    with pytest.raises(ConfigError, match="shrinkage"):
        ItemKNNRecommender(shrinkage=-1.0)


# -- brute-force reference --------------------------------------------------------------------
def _reference(
    triples: list[tuple[int, int, int]],
    profile: list[int],
    k: int,
    weighting: str,
    shrinkage: float,
) -> list[tuple[int, float]]:
    """Cosine item-kNN written out with loops and dicts (no pruning: every neighbour kept)."""
    cell: dict[tuple[int, int], list[int]] = {}
    counts: dict[int, int] = {}
    for u, m, r in triples:
        cell.setdefault((u, m), []).append(r)
        counts[m] = counts.get(m, 0) + 1
    value = {key: (1.0 if weighting == "binary" else sum(rs) / len(rs)) for key, rs in cell.items()}
    items = sorted(counts, key=lambda m: (-counts[m], m))
    users = {u for u, _ in value}
    col = {m: [value.get((u, m), 0.0) for u in sorted(users)] for m in items}

    def cos(a: int, b: int) -> float:
        dot = sum(x * y for x, y in zip(col[a], col[b], strict=True))
        na = math.sqrt(sum(x * x for x in col[a]))
        nb = math.sqrt(sum(x * x for x in col[b]))
        denom = na * nb + shrinkage
        return dot / denom if denom > 0 else 0.0

    own = set(profile)
    scores = {j: sum(cos(i, j) for i in own if i in col and i != j) for j in items if j not in own}
    ranked = sorted(scores, key=lambda j: (-scores[j], items.index(j)))
    return [(j, scores[j]) for j in ranked[:k]]


@given(
    triples=st.lists(
        st.tuples(st.integers(1, 8), st.integers(1, 9), st.integers(1, 5)), min_size=1, max_size=40
    ),
    profile=st.lists(st.integers(0, 10), max_size=4),
    k=st.integers(1, 12),
    weighting=st.sampled_from(["binary", "rating"]),
    shrinkage=st.sampled_from([0.0, 0.5, 3.0]),
)
def test_agrees_with_brute_force(
    triples: list[tuple[int, int, int]],
    profile: list[int],
    k: int,
    weighting: str,
    shrinkage: float,
) -> None:
    users, movies, stars = zip(*triples, strict=True)
    ratings = Ratings(users, movies, stars, np.zeros(len(triples), dtype=np.int64))
    model = ItemKNNRecommender(n_neighbours=50, weighting=weighting, shrinkage=shrinkage)
    rec = model.fit(ratings).recommend(profile, k)
    expected = _reference(triples, profile, k, weighting, shrinkage)
    # Scores rank by rank within float32 rounding; ids agree wherever scores are not near-tied.
    assert len(rec.movie_ids) == len(expected)
    assert rec.scores == pytest.approx([s for _, s in expected], rel=1e-5, abs=1e-6)
    ref_score = dict(_reference(triples, profile, 100, weighting, shrinkage))
    for m, s in zip(rec.movie_ids, rec.scores, strict=True):
        assert ref_score[m] == pytest.approx(s, rel=1e-5, abs=1e-6)


@given(
    triples=st.lists(
        st.tuples(st.integers(1, 8), st.integers(1, 9), st.integers(1, 5)), min_size=1, max_size=40
    ),
    n_neighbours=st.integers(1, 4),
)
def test_pruning_keeps_the_largest_similarities(
    triples: list[tuple[int, int, int]], n_neighbours: int
) -> None:
    users, movies, stars = zip(*triples, strict=True)
    ratings = Ratings(users, movies, stars, np.zeros(len(triples), dtype=np.int64))
    full = ItemKNNRecommender(n_neighbours=50).fit(ratings).similarity_.toarray()
    pruned = ItemKNNRecommender(n_neighbours=n_neighbours).fit(ratings).similarity_.toarray()
    for row_full, row_pruned in zip(full, pruned, strict=True):
        kept = row_pruned[row_pruned > 0]
        assert kept.size <= n_neighbours
        best = np.sort(row_full[row_full > 0])[::-1][:n_neighbours]
        assert np.sort(kept)[::-1] == pytest.approx(best)
        # every kept entry is the full model's value for that pair
        assert row_pruned[row_pruned > 0] == pytest.approx(row_full[row_pruned > 0])
