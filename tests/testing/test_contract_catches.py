"""The conformance suite fails for backends that break the output contract, even though the base
class repairs their output before the suite sees it."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from llmrec.recommenders import PopularityRecommender, Recommendation, Recommender
from llmrec.testing.contract import RecommenderContract


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fault: str = "none"


class _Faulty(Recommender):
    """Popularity, with one fault injected into each list (or its batch behaviour)."""

    name: ClassVar[str] = "faulty"
    config_class: ClassVar[type[BaseModel]] = _Config
    config: _Config

    def _fit(self, ratings: Any, catalog: Any = None, examples: Any = None) -> None:
        self.inner_ = PopularityRecommender().fit(ratings, catalog)

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        out = []
        for p in profiles:
            ids = list(self.inner_.recommend(p, k).movie_ids)
            if self.config.fault == "duplicate":
                ids = [ids[0], *ids][:k]
            elif self.config.fault == "profile" and p:
                ids = [p[0], *ids][:k]
            elif self.config.fault == "batch" and len(profiles) > 1:
                ids = ids[::-1]  # a list that depends on the batch
            scores = [1.0 / (i + 1) for i in range(len(ids))]
            out.append(Recommendation(tuple(ids), tuple(scores)))
        return out


class _Suite(RecommenderContract):
    def __init__(self, fault: str) -> None:
        self.fault = fault

    def make_recommender(self) -> Recommender:
        return _Faulty(fault=self.fault)


def test_a_sound_backend_passes() -> None:
    _Suite("none").test_recommend_contract()
    _Suite("none").test_recommend_many_equals_recommend()


@pytest.mark.parametrize("fault", ["duplicate", "profile"])
def test_repaired_output_is_still_caught(fault: str) -> None:
    with pytest.raises(AssertionError, match=r"profile|duplicate"):
        _Suite(fault).test_recommend_contract()


def test_a_list_that_depends_on_the_batch_is_caught() -> None:
    with pytest.raises(AssertionError):
        _Suite("batch").test_recommend_many_equals_recommend()
