"""CandidateSampler: sizes, no rated negatives, gold included, determinism, files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError, DataFormatError
from llmrec.truth import CandidateSampler, CandidateSets, Example, ProfileDataset


@st.composite
def problems(draw: st.DrawFn) -> tuple[Ratings, ProfileDataset, int]:
    """Ratings over movies 1..M plus a dataset whose users have room for the negatives."""
    n_movies = draw(st.integers(6, 40))
    n_cand = draw(st.integers(1, min(12, n_movies - 5)))
    rows: list[tuple[int, int]] = [(999, m) for m in range(1, n_movies + 1)]  # every movie rated
    examples = []
    for user in draw(st.lists(st.integers(1, 500), min_size=1, max_size=8, unique=True)):
        gold = draw(st.lists(st.integers(1, n_movies + 5), max_size=min(n_cand, 4), unique=True))
        room = n_movies - n_cand - 5  # keep enough unrated, non-gold movies
        rated = draw(
            st.lists(st.integers(1, n_movies), max_size=max(room, 0), unique=True).filter(
                lambda r, g=gold: not set(r) & set(g)
            )
        )
        rows += [(user, m) for m in rated]
        examples.append(Example(user_id=user, profile=tuple(rated[:3]), gold=tuple(gold)))
    ratings = Ratings(
        [u for u, _ in rows],
        [m for _, m in rows],
        [3] * len(rows),
        np.full(len(rows), np.datetime64("2004-01-01", "D")),
    )
    return ratings, ProfileDataset(examples), n_cand


@given(
    problem=problems(),
    seed=st.integers(0, 2**40),
    kind=st.sampled_from(["uniform", "popularity"]),
    max_pos=st.none() | st.integers(1, 3),
)
def test_sampler_properties(
    problem: tuple[Ratings, ProfileDataset, int], seed: int, kind: str, max_pos: int | None
) -> None:
    ratings, dataset, n_cand = problem
    sampler = CandidateSampler(
        n_candidates=n_cand,
        negatives=kind,  # type: ignore[arg-type]
        max_positives=max_pos,
        seed=seed,
    )
    sets = sampler.sample(dataset, ratings)
    rated: dict[int, set[int]] = {}
    for u, m in zip(ratings.user_id.tolist(), ratings.movie_id.tolist(), strict=True):
        rated.setdefault(u, set()).add(m)
    assert sets.user_ids == sorted(dataset.user_ids)
    for ex in dataset:
        cands = sets[ex.user_id]
        positives = ex.gold if max_pos is None else ex.gold[:max_pos]
        assert len(cands) == n_cand and len(set(cands)) == n_cand
        assert set(positives) <= set(cands)
        assert sets.positives(ex.user_id) == positives
        negatives = set(cands) - set(positives)
        assert not negatives & rated.get(ex.user_id, set())
        assert not negatives & set(ex.gold)
        assert negatives <= set(ratings.movie_id.tolist())
    # determinism, whatever the order of the dataset's users or who else is sampled
    reordered = ProfileDataset(list(reversed(dataset.examples)))
    again = sampler.sample(reordered, ratings)
    assert again == sets and again.fingerprint() == sets.fingerprint()
    alone = sampler.sample(ProfileDataset(dataset.examples[:1]), ratings)
    assert alone[dataset[0].user_id] == sets[dataset[0].user_id]


def small() -> tuple[Ratings, ProfileDataset]:
    n_movies = 60
    users = [1] * 10 + list(np.repeat(np.arange(100, 160), 3))
    movies = list(range(1, 11)) + [((i * 7) % n_movies) + 1 for i in range(180)]
    ratings = Ratings(
        users, movies, [4] * len(users), np.full(len(users), np.datetime64("2004-01-01", "D"))
    )
    return ratings, ProfileDataset([Example(user_id=1, profile=(1, 2), gold=(11, 12))])


def test_save_load_round_trip_and_fingerprint(tmp_path: Path) -> None:
    ratings, dataset = small()
    sets = CandidateSampler(n_candidates=8, seed=4).sample(dataset, ratings)
    path = sets.save(tmp_path / "cands.jsonl")
    loaded = CandidateSets.load(path)
    assert loaded == sets and loaded.fingerprint() == sets.fingerprint()
    meta = json.loads((tmp_path / "cands.jsonl.meta.json").read_text())
    assert meta["fingerprint"] == sets.fingerprint()
    assert meta["sampler"] == {
        "n_candidates": 8,
        "negatives": "uniform",
        "max_positives": None,
        "seed": 4,
    }
    assert meta["ratings_fingerprint"] == ratings.fingerprint()
    other = CandidateSampler(n_candidates=8, seed=5).sample(dataset, ratings)
    assert other.fingerprint() != sets.fingerprint()
    assert path.read_bytes() == CandidateSets.load(path).save(tmp_path / "b.jsonl").read_bytes()


def test_presentation_order_is_shuffled() -> None:
    ratings, dataset = small()
    firsts = {CandidateSampler(n_candidates=10, seed=s).sample(dataset, ratings)[1][0]
              for s in range(30)}  # fmt: skip
    assert len(firsts) > 5  # gold is not always listed first


def test_popularity_negatives_follow_rating_counts() -> None:
    # movies 1..4: counts 400, 100, 100, 100 from filler users; the target rated none of them
    users, movies = [], []
    for m, c in ((1, 400), (2, 100), (3, 100), (4, 100)):
        users += list(range(1000, 1000 + c))
        movies += [m] * c
    users += [5]
    movies += [9]
    ratings = Ratings(
        users, movies, [3] * len(users), np.full(len(users), np.datetime64("2004-01-01", "D"))
    )
    firsts: Counter[int] = Counter()
    for seed in range(600):
        ds = ProfileDataset([Example(user_id=5, profile=(9,), gold=())])
        sets = CandidateSampler(n_candidates=1, negatives="popularity", seed=seed)
        firsts[sets.sample(ds, ratings)[5][0]] += 1
    # P(movie 1) = 400/700 = 0.571; a binomial 99.9 % interval over 600 draws is +- 0.067
    assert abs(firsts[1] / 600 - 4 / 7) < 0.067
    assert set(firsts) == {1, 2, 3, 4}


def test_clear_errors() -> None:
    ratings, dataset = small()
    with pytest.raises(ConfigError, match="user 1 has only 48 movies neither rated nor gold"):
        CandidateSampler(n_candidates=60).sample(dataset, ratings)
    with pytest.raises(ConfigError, match="user 1 has 2 positives, more than n_candidates=1"):
        CandidateSampler(n_candidates=1).sample(dataset, ratings)
    one = CandidateSampler(n_candidates=1, max_positives=1).sample(dataset, ratings)
    assert one[1] == (11,)
    twice = ProfileDataset([dataset[0], dataset[0]])
    with pytest.raises(ConfigError, match="twice"):
        CandidateSampler().sample(twice, ratings)


def test_load_rejects_malformed_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"user_id": 1, "candidates": [1, 2], "positives": [3]}\n')
    with pytest.raises(DataFormatError, match="line 1"):
        CandidateSets.load(path)
    path.write_text('{"user_id": 1, "candidates": [1, 2]}\n')
    with pytest.raises(DataFormatError, match="line 1"):
        CandidateSets.load(path)


def test_heavy_raters_fall_back_to_exact_draws() -> None:
    # the user rated all but 3 of 200 movies: rejection rounds rarely hit; the fallback must
    n = 200
    users = [1] * (n - 3) + [2] * n
    movies = list(range(1, n - 2)) + list(range(1, n + 1))
    ratings = Ratings(
        users, movies, [3] * len(users), np.full(len(users), np.datetime64("2004-01-01", "D"))
    )
    ds = ProfileDataset([Example(user_id=1, profile=(1,), gold=())])
    sets = CandidateSampler(n_candidates=3, seed=1).sample(ds, ratings)
    assert sorted(sets[1]) == [n - 2, n - 1, n]
