"""Candidate-set protocol end to end on small rankers whose answers are known: an oracle, a
seeded random ranker, an order-invariant classic backend and a ranker that always picks the
candidate shown first; presentation orders, rank_with_repeats and summarize_repeats."""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from llmrec.errors import ConfigError
from llmrec.metrics import summarize_repeats
from llmrec.recommenders import Recommendation, Recommender, get_recommender, rank_with_repeats
from llmrec.recommenders.ranking import borda
from llmrec.testing.contract import contract_data
from llmrec.truth import CandidateSets, Example, ProfileDataset

N_CANDIDATES = 20


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0


class _Ranker(Recommender):
    """Test rankers: only ``_rank_order`` differs."""

    name: ClassVar[str] = "test-ranker"
    config_class: ClassVar[type[BaseModel]] = _Config
    config: _Config
    positives: ClassVar[dict[tuple[int, ...], set[int]]] = {}

    def _fit(self, ratings: Any, catalog: Any = None, examples: Any = None) -> None:
        self.fitted_ = True

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        return [Recommendation((), ()) for _ in profiles]

    def _rank_order(self, profile: tuple[int, ...], cands: tuple[int, ...]) -> list[int]:
        raise NotImplementedError

    def _rank_many(
        self, profiles: list[tuple[int, ...]], candidates: list[tuple[int, ...]], k: int | None
    ) -> list[Recommendation]:
        out = []
        for profile, cands in zip(profiles, candidates, strict=True):
            order = self._rank_order(profile, cands)[: len(cands) if k is None else k]
            out.append(Recommendation(tuple(order), tuple(-float(i) for i in range(len(order)))))
        return out


class _Oracle(_Ranker):
    """Knows each profile's positives (profiles name their user here) and ranks them first."""

    def _rank_order(self, profile: tuple[int, ...], cands: tuple[int, ...]) -> list[int]:
        gold = self.positives[profile]
        return sorted(cands, key=lambda m: (m not in gold, m))


class _SeededRandom(_Ranker):
    """A uniformly random order, seeded by the seed and the candidate set (not its order)."""

    def _rank_order(self, profile: tuple[int, ...], cands: tuple[int, ...]) -> list[int]:
        rng = np.random.default_rng([self.config.seed, *sorted(cands)])
        return [int(m) for m in rng.permutation(sorted(cands))]


class _FirstListed(_Ranker):
    """Position bias in its purest form: the candidates exactly as shown."""

    def _rank_order(self, profile: tuple[int, ...], cands: tuple[int, ...]) -> list[int]:
        return list(cands)


def _problem(n_users: int, seed: int = 5) -> tuple[ProfileDataset, CandidateSets]:
    """Users 1..n with profile (10000 + user,): 1-3 positives among 20 candidates (1000+)."""
    rng = np.random.default_rng(seed)
    cands: dict[int, tuple[int, ...]] = {}
    pos: dict[int, tuple[int, ...]] = {}
    for u in range(1, n_users + 1):
        movies = rng.choice(np.arange(1000, 1400), size=N_CANDIDATES, replace=False)
        n_pos = int(rng.integers(1, 4))
        pos[u] = tuple(int(m) for m in movies[:n_pos])
        cands[u] = tuple(int(m) for m in rng.permutation(movies))
    dataset = ProfileDataset([Example(u, (10_000 + u,), pos[u]) for u in cands], {"name": "t"})
    return dataset, CandidateSets(cands, pos)


def _fitted(cls: type[_Ranker], sets: CandidateSets, **options: Any) -> _Ranker:
    cls.positives = {(10_000 + u,): set(sets.positives(u)) for u in sets}
    ratings, catalog, _ = contract_data()
    model = cls(**options)
    return model.fit(ratings, catalog)


def _summary(model: Recommender, dataset: ProfileDataset, sets: CandidateSets, repeats: int):
    runs = rank_with_repeats(model, dataset, sets, repeats, seed=11)
    return runs, summarize_repeats(
        runs.rankings(),
        runs.truth(),
        ["hit@1", "hit@5", "ndcg@5"],
        valid=runs.valid(),
        orders=runs.orders_by_user(),
    )


def test_oracle_scores_hit_at_1_of_one() -> None:
    dataset, sets = _problem(200)
    _, summary = _summary(_fitted(_Oracle, sets), dataset, sets, repeats=3)
    for block in (summary.strict, summary.valid_only):
        assert block is not None
        assert block["hit@1"].values == (1.0, 1.0, 1.0)
        assert block["ndcg@5"].mean == 1.0
    assert summary.validity_rate is not None and summary.validity_rate.mean == 1.0
    assert summary.top1_flip_rate == 0.0


def test_seeded_random_ranker_is_within_its_binomial_interval() -> None:
    """HR@1 of a uniformly random order is the mean of independent Bernoulli(p_u / 20) draws:
    its expectation is mean(p_u) / 20 and its standard deviation sqrt(Σ q(1-q)) / N; a
    seeded run lands within 4 standard deviations (a two-sided 99.99 % band)."""
    dataset, sets = _problem(3000)
    q = np.array([len(sets.positives(u)) / N_CANDIDATES for u in sets])
    expected = float(q.mean())
    sd = math.sqrt(float((q * (1 - q)).sum())) / q.size
    for seed in (0, 1):
        _, summary = _summary(_fitted(_SeededRandom, sets, seed=seed), dataset, sets, 2)
        hit = summary.strict["hit@1"]
        assert expected - 4 * sd <= hit.mean <= expected + 4 * sd, (hit.mean, expected, sd)
        # order-invariant: every repeat gives the same rankings and the same numbers
        assert hit.values[0] == hit.values[1] and hit.low == hit.high == hit.mean
        assert summary.top1_flip_rate == 0.0


def test_an_order_invariant_backend_gives_identical_metrics_over_repeats() -> None:
    ratings, catalog, _ = contract_data()
    model = get_recommender("itemknn").fit(ratings, catalog)
    movies = [int(m) for m in catalog.movie_ids]
    examples, cands, pos = [], {}, {}
    for u, profile in enumerate([(101, 102), (109, 110), (117, 118), (101, 124)], 1):
        others = [m for m in movies if m not in profile]
        cands[u], pos[u] = tuple(others[u::2]), tuple(others[u::2][:2])
        examples.append(Example(u, profile, pos[u]))
    dataset, sets = ProfileDataset(examples, {"name": "t"}), CandidateSets(cands, pos)
    runs, summary = _summary(model, dataset, sets, repeats=4)
    assert [o[1] for o in runs.orders_by_user()] != [cands[1]] * 4  # the orders did change
    assert runs.rankings()[1:] == runs.rankings()[:1] * 3
    for stat in summary.strict.values():
        assert len(set(stat.values)) == 1 and stat.low == stat.high == stat.mean
    assert summary.top1_flip_rate == 0.0


def test_a_first_listed_picker_shows_full_order_sensitivity() -> None:
    dataset, sets = _problem(300)
    runs, summary = _summary(_fitted(_FirstListed, sets), dataset, sets, repeats=4)
    orders = runs.orders_by_user()
    # its top-1 is the first-shown candidate in every answer ...
    assert summary.top1_first_listed == 1.0
    # ... so the top changes exactly when the first-shown candidate does
    pairs = list(itertools.combinations(range(4), 2))
    differ = [sum(orders[a][u][0] != orders[b][u][0] for a, b in pairs) / len(pairs) for u in sets]
    assert summary.top1_flip_rate == pytest.approx(float(np.mean(differ)))
    assert summary.top1_flip_rate > 0.85  # 1 - 1/20 expected for random orders
    # and HR@1 of each repeat is the share of users shown a positive first
    for r, order in enumerate(orders):
        shown_first = np.mean([order[u][0] in sets.positives(u) for u in sets])
        assert summary.strict["hit@1"].values[r] == pytest.approx(float(shown_first))


def test_rank_with_repeats_needs_a_set_for_every_user() -> None:
    dataset, sets = _problem(5)
    model = _fitted(_Oracle, sets)
    small = CandidateSets({1: sets[1]}, {1: sets.positives(1)})
    with pytest.raises(ConfigError, match="no candidate set"):
        rank_with_repeats(model, dataset, small, 2)
    with pytest.raises(ConfigError, match="repeats"):
        rank_with_repeats(model, dataset, sets, 0)
    by_map = rank_with_repeats(model, {u: (10_000 + u,) for u in sets}, sets, 1)
    assert by_map.rankings() == rank_with_repeats(model, dataset, sets, 1).rankings()


# -- Borda aggregation over presentation orders (LLMRank's bootstrapping) ---------------------


def test_borda_takes_a_first_listed_picker_near_one_in_n() -> None:
    """Unaggregated, the picker's top is the first-shown candidate every time; after Borda over
    100 orders its top is the first-shown one of an order about as often as chance (1/20),
    the rest being the 1/sqrt(R) edge one order gives its first candidate (about 0.068)."""
    dataset, sets = _problem(300)
    repeats = 100
    runs = rank_with_repeats(
        _fitted(_FirstListed, sets), dataset, sets, repeats, seed=3, aggregate="borda"
    )
    truth, orders = runs.truth(), runs.orders_by_user()
    before = summarize_repeats(runs.rankings(), truth, ["hit@1"], orders=orders)
    assert before.top1_first_listed == 1.0
    merged = runs.aggregated_rankings()
    after = summarize_repeats([merged] * repeats, truth, ["hit@1"], orders=orders)
    assert after.top1_first_listed is not None
    assert 1 / N_CANDIDATES - 0.01 <= after.top1_first_listed <= 1 / N_CANDIDATES + 0.03
    # every candidate was ranked in every order, so the scores are the pure Borda points
    for u, rec in zip(runs.user_ids, runs.aggregated or (), strict=True):
        assert sorted(rec.movie_ids) == sorted(sets[u])
        points = {m: sum(N_CANDIDATES - o[u].index(m) for o in orders) for m in sets[u]}
        assert rec.scores == tuple(float(points[m]) for m in rec.movie_ids)
        assert rec.diagnostics == {"aggregate": "borda", "repeats": 100, "valid_repeats": 100}


def test_borda_leaves_an_order_free_backend_unchanged() -> None:
    dataset, sets = _problem(60)
    for model, k in ((_fitted(_SeededRandom, sets, seed=4), None), (_fitted(_Oracle, sets), 5)):
        runs = rank_with_repeats(model, dataset, sets, 6, seed=2, k=k, aggregate="borda")
        assert runs.aggregated_rankings() == runs.rankings()[0]
        assert all(r == runs.rankings()[0] for r in runs.rankings())


def test_borda_pushes_below_what_an_answer_left_out() -> None:
    """LLMRank's rule: a movie some answer did not rank comes after every movie all ranked."""
    answers = [
        Recommendation((1, 2, 3), (3.0, 2.0, 1.0)),
        Recommendation((4, 3, 2), (3.0, 2.0, 1.0)),
        Recommendation((), ()),  # an invalid answer: everything is left out once
    ]
    merged = borda(answers, n=4)
    # 3 and 2 are in both valid answers (3: 2 + 3 = 5 points, 2: 3 + 2 = 5, tie -> smaller id);
    # 1 and 4 in one each (4 points each, tie -> smaller id)
    assert merged.movie_ids == (2, 3, 1, 4)
    assert merged.scores == (5.0 - 13, 5.0 - 13, 4.0 - 26, 4.0 - 26)
    assert merged.diagnostics["valid_repeats"] == 2
    assert borda(answers, n=4, k=2).movie_ids == (2, 3)
    with pytest.raises(ConfigError, match="aggregate"):
        dataset, sets = _problem(2)
        rank_with_repeats(_fitted(_Oracle, sets), dataset, sets, 2, aggregate="mean")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no aggregated"):
        rank_with_repeats(_fitted(_Oracle, sets), dataset, sets, 2).aggregated_rankings()
