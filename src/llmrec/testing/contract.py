"""``RecommenderContract``: the conformance suite every recommender backend passes.

Subclass it in a pytest module and say how to build an unfitted recommender::

    from llmrec.recommenders import get_recommender
    from llmrec.testing.contract import RecommenderContract

    class TestMyModel(RecommenderContract):
        def make_recommender(self):
            return get_recommender("my-model", seed=1)

pytest then collects every ``test_*`` method below for that backend. The data is a tiny
synthetic set built here (no files): 60 users in three taste groups over 24 movies, with a
catalog of readable titles. Override :meth:`RecommenderContract.make_data` or
:meth:`RecommenderContract.make_profiles` to use other data (for example replies queued on a
local test server for a language-model backend).

pytest is imported only inside the test methods, so importing this module never needs it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError, NotFittedError
from llmrec.recommenders.base import Recommendation, Recommender
from llmrec.recommenders.registry import available_recommenders, get_recommender
from llmrec.truth.dataset import Example, ProfileDataset

__all__ = ["RecommenderContract", "contract_data"]

_TITLES = (
    "Alien Shore",
    "Blue Harbour",
    "Copper Sky",
    "Dust Road",
    "Echo Valley",
    "Fallen Crown",
    "Glass River",
    "Hollow Pines",
    "Iron Meadow",
    "Jade Window",
    "Kite Runner Bay",
    "Lantern Street",
    "Midnight Orchard",
    "North Signal",
    "Open Water",
    "Paper Moon Hotel",
    "Quiet Engine",
    "Red Lighthouse",
    "Silver Thread",
    "Twelve Bridges",
    "Under the Elm",
    "Velvet Storm",
    "Winter Station",
    "Yellow Kingdom",
)


def contract_data(seed: int = 7) -> tuple[Ratings, Catalog, ProfileDataset]:
    """The suite's training ratings, catalog and training profiles.

    Movies 101-124; 60 users in three taste groups of eight movies each, every user rating most
    of their group's movies (4-5 stars) and a few others (1-3 stars). Movie 125 is in the
    catalog but never rated. Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    movie_ids = np.arange(101, 125)
    users: list[int] = []
    movies: list[int] = []
    stars: list[int] = []
    for user in range(1, 61):
        group = user % 3
        liked = movie_ids[group * 8 : group * 8 + 8]
        others = np.setdiff1d(movie_ids, liked)
        chosen_liked = rng.choice(liked, size=int(rng.integers(4, 8)), replace=False)
        chosen_other = rng.choice(others, size=int(rng.integers(1, 4)), replace=False)
        for m in chosen_liked:
            users.append(user)
            movies.append(int(m))
            stars.append(int(rng.integers(4, 6)))
        for m in chosen_other:
            users.append(user)
            movies.append(int(m))
            stars.append(int(rng.integers(1, 4)))
    n = len(users)
    days = np.datetime64("2005-01-01", "D") + rng.integers(0, 365, size=n)
    ratings = Ratings(users, movies, stars, days)
    catalog = Catalog(
        [
            Movie(int(m), title, 1990 + i)
            for i, (m, title) in enumerate(zip(movie_ids, _TITLES, strict=True))
        ]
        + [Movie(125, "Zero Hour", None)]
    )
    examples = []
    for user in range(1, 61, 5):
        mask = ratings.user_id == user
        order = np.lexsort((ratings.date[mask], -ratings.rating[mask].astype(np.int64)))
        profile = tuple(int(m) for m in ratings.movie_id[mask][order][:5])
        examples.append(Example(user, profile, ()))
    return ratings, catalog, ProfileDataset(examples, {"name": "contract"})


class RecommenderContract:
    """Mixin of conformance tests; subclasses implement :meth:`make_recommender`."""

    #: The list length the tests ask for.
    k: int = 5

    def make_recommender(self) -> Recommender:
        """A new, unfitted recommender of the backend under test."""
        raise NotImplementedError("subclasses of RecommenderContract define make_recommender()")

    def make_data(self) -> tuple[Ratings, Catalog, ProfileDataset]:
        """Training ratings, catalog and training profiles (default: :func:`contract_data`)."""
        return contract_data()

    def make_profiles(self) -> list[tuple[int, ...]]:
        """Profiles to recommend for: one per taste group, a mixed one and a single movie."""
        return [(101, 102, 103), (109, 110), (117, 118, 119, 120), (101, 112, 124), (105,)]

    # -- helpers ----------------------------------------------------------------------------
    def fitted(self) -> Recommender:
        ratings, catalog, examples = self.make_data()
        return self.make_recommender().fit(ratings, catalog, examples)

    def check_recommendation(
        self, rec: Recommendation, profile: tuple[int, ...], k: int, known: set[int]
    ) -> None:
        """Every property a single recommendation must have.

        The base class strips profile movies, repeats and movies past ``k`` from what a backend
        returns and records them in ``diagnostics["contract_removed"]``; a conforming backend
        never needs that, so the record must be absent.
        """
        assert isinstance(rec, Recommendation)
        assert "contract_removed" not in rec.diagnostics, rec.diagnostics["contract_removed"]
        assert len(rec.movie_ids) <= k
        assert len(rec.scores) == len(rec.movie_ids)
        assert all(type(m) is int for m in rec.movie_ids), rec.movie_ids
        assert all(type(s) is float for s in rec.scores), rec.scores
        assert len(set(rec.movie_ids)) == len(rec.movie_ids), rec.movie_ids
        assert not set(rec.movie_ids) & set(profile), (profile, rec.movie_ids)
        assert set(rec.movie_ids) <= known, set(rec.movie_ids) - known
        assert all(math.isfinite(s) for s in rec.scores), rec.scores
        assert all(b <= a for a, b in zip(rec.scores, rec.scores[1:], strict=False)), rec.scores
        json.dumps(rec.to_dict())

    def known_movies(self) -> set[int]:
        _, catalog, _ = self.make_data()
        return {int(m) for m in catalog.movie_ids}

    def make_candidates(self) -> list[tuple[int, ...]]:
        """One candidate list per profile of :meth:`make_profiles`: catalog movies outside the
        profile, in a mixed presentation order, including movie 125 (never rated)."""
        known = sorted(self.known_movies())
        out = []
        for i, profile in enumerate(self.make_profiles()):
            others = [m for m in known if m not in profile]
            picked = others[i % 3 :: 3][:7]
            if 125 in others and 125 not in picked:
                picked.append(125)
            out.append(tuple(picked[::-1] if i % 2 else picked))
        return out

    def check_ranking(
        self, rec: Recommendation, profile: tuple[int, ...], candidates: tuple[int, ...], k: int
    ) -> None:
        """A ranking is a recommendation drawn only from the candidates."""
        self.check_recommendation(rec, profile, k, set(candidates))
        assert len(rec.movie_ids) <= len(candidates)

    # -- construction -----------------------------------------------------------------------
    def test_constructor_stores_config_only(self) -> None:
        model = self.make_recommender()
        assert isinstance(model, Recommender)
        assert not model.is_fitted
        assert isinstance(model.name, str) and model.name
        assert model.config.model_config.get("extra") == "forbid"
        assert not [a for a in vars(model) if a.endswith("_") and not a.startswith("_")]

    def test_unfitted_use_raises(self) -> None:
        import pytest

        model = self.make_recommender()
        with pytest.raises(NotFittedError, match=type(model).__name__) as info:
            model.recommend(self.make_profiles()[0], self.k)
        assert "fit" in str(info.value)
        with pytest.raises(NotFittedError):
            model.recommend_many(self.make_profiles(), self.k)

    def test_fit_returns_self(self) -> None:
        ratings, catalog, examples = self.make_data()
        model = self.make_recommender()
        assert model.fit(ratings, catalog, examples) is model
        assert model.is_fitted

    # -- output contract --------------------------------------------------------------------
    def test_recommend_contract(self) -> None:
        model = self.fitted()
        known = self.known_movies()
        for profile in self.make_profiles():
            rec = model.recommend(profile, self.k)
            self.check_recommendation(rec, profile, self.k, known)
            assert len(rec.movie_ids) > 0

    def test_recommend_many_equals_recommend(self) -> None:
        """A profile's list does not depend on the batch it is in: alone, first or last, next
        to other profiles or to itself (batched backends compute it with the others)."""
        model = self.fitted()
        profiles = self.make_profiles()
        many = model.recommend_many(profiles, self.k)
        assert isinstance(many, list) and len(many) == len(profiles)
        single = [model.recommend(p, self.k) for p in profiles]
        assert [(r.movie_ids, r.scores) for r in many] == [(r.movie_ids, r.scores) for r in single]
        mixed = [*reversed(profiles), profiles[0], profiles[-1]]
        expected = [*reversed(many), many[0], many[-1]]
        again = model.recommend_many(mixed, self.k)
        assert [(r.movie_ids, r.scores) for r in again] == [
            (r.movie_ids, r.scores) for r in expected
        ]
        assert model.recommend_many([], self.k) == []

    def test_accepts_lists_tuples_and_arrays(self) -> None:
        model = self.fitted()
        profile = self.make_profiles()[0]
        as_tuple = model.recommend(tuple(profile), self.k).movie_ids
        assert model.recommend(list(profile), self.k).movie_ids == as_tuple
        assert model.recommend(np.asarray(profile, dtype=np.int64), self.k).movie_ids == as_tuple

    def test_k_one_and_k_past_the_catalog(self) -> None:
        model = self.fitted()
        known = self.known_movies()
        for profile in self.make_profiles():
            one = model.recommend(profile, 1)
            self.check_recommendation(one, profile, 1, known)
            many = model.recommend(profile, 1000)
            self.check_recommendation(many, profile, 1000, known)

    def test_invalid_k_raises(self) -> None:
        import pytest

        model = self.fitted()
        for bad in (0, -3, 2.5, True, "5"):
            with pytest.raises(ConfigError, match="k must be"):
                model.recommend(self.make_profiles()[0], bad)  # type: ignore[arg-type]

    def test_empty_profile(self) -> None:
        model = self.fitted()
        rec = model.recommend((), self.k)
        self.check_recommendation(rec, (), self.k, self.known_movies())

    def test_unknown_profile_movies_are_ignored(self) -> None:
        model = self.fitted()
        profile = (*self.make_profiles()[0], 999_999, 125)
        rec = model.recommend(profile, self.k)
        self.check_recommendation(rec, profile, self.k, self.known_movies())

    def test_deterministic_across_fits(self) -> None:
        profiles = self.make_profiles()
        first = self.fitted().recommend_many(profiles, self.k)
        second = self.fitted().recommend_many(profiles, self.k)
        assert [(r.movie_ids, r.scores) for r in first] == [(r.movie_ids, r.scores) for r in second]

    def test_refit_replaces_state(self) -> None:
        ratings, catalog, examples = self.make_data()
        model = self.make_recommender().fit(ratings, catalog, examples)
        model.fit(ratings, catalog, examples)
        expected = self.fitted().recommend_many(self.make_profiles(), self.k)
        got = model.recommend_many(self.make_profiles(), self.k)
        assert [r.movie_ids for r in got] == [r.movie_ids for r in expected]

    # -- ranking candidates -----------------------------------------------------------------
    def test_rank_contract(self) -> None:
        model = self.fitted()
        for profile, candidates in zip(self.make_profiles(), self.make_candidates(), strict=True):
            rec = model.rank(profile, candidates)
            self.check_ranking(rec, profile, candidates, len(candidates))
            assert len(rec.movie_ids) > 0
            top = model.rank(profile, candidates, k=2)
            self.check_ranking(top, profile, candidates, 2)

    def test_rank_many_equals_rank(self) -> None:
        model = self.fitted()
        profiles, candidates = self.make_profiles(), self.make_candidates()
        many = model.rank_many(profiles, candidates)
        single = [model.rank(p, c) for p, c in zip(profiles, candidates, strict=True)]
        assert [(r.movie_ids, r.scores) for r in many] == [(r.movie_ids, r.scores) for r in single]
        again = model.rank_many([*reversed(profiles)], [*reversed(candidates)])
        assert [(r.movie_ids, r.scores) for r in again] == [
            (r.movie_ids, r.scores) for r in reversed(many)
        ]
        assert model.rank_many([], []) == []
        assert model.rank(profiles[0], ()).movie_ids == ()

    def test_rank_rejects_bad_candidates(self) -> None:
        import pytest

        profile, candidates = self.make_profiles()[0], self.make_candidates()[0]
        with pytest.raises(NotFittedError):
            self.make_recommender().rank(profile, candidates)
        model = self.fitted()
        with pytest.raises(ConfigError, match="more than once"):
            model.rank(profile, (*candidates, candidates[0]))
        with pytest.raises(ConfigError, match="profile movie"):
            model.rank(profile, (*candidates, profile[0]))
        with pytest.raises(ConfigError, match="one candidate list per profile"):
            model.rank_many([profile, profile], [candidates])
        for bad in (0, -1, 2.5, True):
            with pytest.raises(ConfigError, match="k must be"):
                model.rank(profile, candidates, k=bad)  # type: ignore[arg-type]

    # -- configuration ----------------------------------------------------------------------
    def test_config_round_trip(self) -> None:
        model = self.make_recommender()
        data = json.loads(json.dumps(model.to_config()))
        assert data["name"] == model.name
        again = type(model).from_config(data)
        assert type(again) is type(model)
        assert again.to_config() == model.to_config()
        assert type(model)(**data["config"]).to_config() == model.to_config()
        if model.name in available_recommenders():
            assert Recommender.from_config(data).to_config() == model.to_config()
            assert get_recommender(model.name, **data["config"]).to_config() == data

    def test_unknown_option_rejected(self) -> None:
        import pytest

        model = self.make_recommender()
        options: dict[str, Any] = dict(model.to_config()["config"])
        options["no_such_option"] = 1
        with pytest.raises(ConfigError, match="no_such_option"):
            type(model)(**options)
        with pytest.raises(ConfigError):
            type(model).from_config({"name": model.name, "config": options})
