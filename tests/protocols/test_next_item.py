"""next_item.build: leave-one-out in time order, 1 + 19 stored candidates, the fitting table,
and a seeded random ranker landing on RecLM-eval's random-guess expectations."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from llmrec.data import Ratings
from llmrec.errors import ConfigError
from llmrec.metrics import evaluate
from llmrec.prompts import user_histories
from llmrec.protocols import next_item
from llmrec.recommenders import Recommendation, Recommender
from llmrec.truth import CandidateSets, ProfileDataset


def _ratings(n_users: int, seed: int = 0) -> Ratings:
    """Users with 2-30 ratings of 300 movies at seconds drawn from a narrow range (ties)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in rng.permutation(np.arange(1, n_users + 1)):  # file order is not id order
        n = int(rng.integers(2, 31))
        movies = rng.choice(np.arange(1, 301), size=n, replace=False)
        for m in movies:
            rows.append((int(u), int(m), int(rng.integers(1, 6)), int(rng.integers(0, 40))))
    u, m, r, t = (np.asarray(c) for c in zip(*rows, strict=True))
    t = t + 900_000_000
    return Ratings(u, m, r, t // 86_400, time=t)


RATINGS = _ratings(400)


def test_targets_profiles_and_candidates_follow_the_rule() -> None:
    split = next_item.build(RATINGS, history=5, seed=3)
    histories = user_histories(RATINGS)
    assert split.dataset.user_ids == [u for u, h in histories.items() if len(h) >= 2]
    for ex in split.dataset:
        h = histories[ex.user_id]
        assert ex.gold == (h.movie_ids[-1],)
        assert ex.profile == h.movie_ids[:-1][-5:]
        assert split.seen[ex.user_id] == h.movie_ids[:-1]
        cands = split.candidates[ex.user_id]
        assert len(cands) == 20 and split.candidates.positives(ex.user_id) == ex.gold
        negatives = set(cands) - set(ex.gold)
        assert len(negatives) == 19 and not negatives & set(h.movie_ids)  # never rated
    valid = next_item.build(RATINGS, history=5, stage="valid", min_history=3, seed=3)
    for ex in valid.dataset:
        h = histories[ex.user_id]
        assert len(h) >= 5 and ex.gold == (h.movie_ids[-2],)
        assert ex.profile == h.movie_ids[:-2][-5:]
        assert h.movie_ids[-1] not in valid.candidates[ex.user_id]  # the test item: rated
    assert valid.exclusions() == [valid.seen[u] for u in valid.dataset.user_ids]


def test_the_fitting_table_is_recboles_training_part() -> None:
    split = next_item.build(RATINGS)
    histories = user_histories(RATINGS)
    fitted = user_histories(split.fitting)
    for user, h in histories.items():
        assert fitted.get(user, None) is None or fitted[user].movie_ids == h.movie_ids[:-2]
        assert len(fitted.get(user, ())) == max(0, len(h) - 2)
    assert split.fitting.time is not None  # time travels with the rows


def test_same_seed_same_bytes_and_saved_sets_read_back(tmp_path: Path) -> None:
    a = next_item.build(RATINGS, seed=5, n_users=50)
    b = next_item.build(RATINGS, seed=5, n_users=50)
    assert a.candidates.fingerprint() == b.candidates.fingerprint()
    assert a.dataset.examples == b.dataset.examples and len(a.dataset) == 50
    c = next_item.build(RATINGS, seed=6, n_users=50)
    assert c.candidates.fingerprint() != a.candidates.fingerprint()
    folder = a.save(tmp_path / "split")
    assert CandidateSets.load(folder / "candidates.jsonl") == a.candidates
    assert ProfileDataset.load(folder / "examples.jsonl").examples == a.dataset.examples


def test_bad_options_and_repeated_ratings_are_refused() -> None:
    with pytest.raises(ConfigError, match="history"):
        next_item.build(RATINGS, history=0)
    with pytest.raises(ConfigError, match="stage"):
        next_item.build(RATINGS, stage="train")
    twice = Ratings([1, 1, 1], [5, 6, 5], [4, 4, 4], [0, 0, 0], time=[1, 2, 3])
    with pytest.raises(ConfigError, match="rated movie 5 twice"):
        next_item.build(twice)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0


class _RandomRanker(Recommender):
    """A uniformly random order, seeded by the seed and the user's candidate set."""

    name: ClassVar[str] = "test-random"
    config_class: ClassVar[type[BaseModel]] = _Config
    config: _Config

    def _fit(self, ratings: Any, catalog: Any = None, examples: Any = None) -> None:
        pass

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        return [Recommendation((), ()) for _ in profiles]

    def _rank_many(
        self, profiles: list[tuple[int, ...]], candidates: list[tuple[int, ...]], k: int | None
    ) -> list[Recommendation]:
        out = []
        for cands in candidates:
            rng = np.random.default_rng([self.config.seed, *sorted(cands)])
            order = [int(m) for m in rng.permutation(sorted(cands))]
            out.append(Recommendation(tuple(order), tuple(-float(i) for i in range(len(order)))))
        return out


def _random_guess(n: int = 20, k: int = 10) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation of each metric when the one target is at a uniform rank."""
    ranks = np.arange(1, n + 1)
    per_rank = {
        "ndcg@10": np.where(ranks <= k, 1 / np.log2(ranks + 1), 0.0),
        "hit@10": (ranks <= k).astype(float),
        "mrr@10": np.where(ranks <= k, 1 / ranks, 0.0),
    }
    return {m: (float(v.mean()), float(v.std())) for m, v in per_rank.items()}


def test_the_random_guess_expectations_are_reclm_evals() -> None:
    expected = {"ndcg@10": 0.2272, "hit@10": 0.5, "mrr@10": 0.1464}
    for metric, (mean, _) in _random_guess().items():
        assert mean == pytest.approx(expected[metric], abs=5e-5)


def test_a_seeded_random_ranker_lands_within_its_95_percent_interval() -> None:
    ratings = _ratings(3000, seed=1)
    split = next_item.build(ratings, seed=0)
    model = _RandomRanker(seed=0).fit(split.fitting)
    users = split.dataset.user_ids
    recs = model.rank_many(split.dataset.profiles, [split.candidates[u] for u in users])
    report = evaluate(
        {u: r.movie_ids for u, r in zip(users, recs, strict=True)},
        {u: split.candidates.positives(u) for u in users},
        ["ndcg@10", "hit@10", "mrr@10"],
        n_bootstrap=0,
    )
    n = len(users)
    assert n == 3000
    for metric, (mean, sd) in _random_guess().items():
        half = 1.96 * sd / math.sqrt(n)
        assert mean - half <= report.means[metric] <= mean + half, (metric, report.means[metric])
