"""The base class: configuration handling, the fitted check, and the output contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

from llmrec.data import Ratings
from llmrec.errors import BackendError, ConfigError, NotFittedError
from llmrec.recommenders import (
    ItemKNNConfig,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommendation,
    Recommender,
)


class _ScriptConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(3, ge=1)


class _Scripted(Recommender):
    """Returns whatever ``answers`` holds, to watch the base class enforce the contract."""

    name = "scripted"
    config_class = _ScriptConfig
    chunk_size = 2

    def __init__(self, answers: list[Recommendation], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers = answers
        self.calls: list[list[tuple[int, ...]]] = []

    def _fit(self, ratings: Any, catalog: Any, examples: Any) -> None:
        pass

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        self.calls.append(profiles)
        return [self.answers[0]] * len(profiles)


def _tiny() -> Ratings:
    return Ratings([1, 1, 2], [10, 20, 10], [5, 4, 3], np.zeros(3, dtype=np.int64))


def test_profile_movies_duplicates_and_overflow_are_removed_and_counted() -> None:
    answer = Recommendation((1, 2, 2, 3, 4, 5), (6.0, 5.0, 5.0, 4.0, 3.0, 2.0), raw_text="x")
    model = _Scripted([answer]).fit(_tiny())
    rec = model.recommend([3, 99], 3)
    assert rec.movie_ids == (1, 2, 4)
    assert rec.scores == (6.0, 5.0, 3.0)
    assert rec.raw_text == "x"
    assert rec.diagnostics["contract_removed"] == {"profile": 1, "duplicate": 1, "beyond_k": 1}


def test_a_clean_answer_is_returned_unchanged() -> None:
    answer = Recommendation((1, 2), (2.0, 1.0), diagnostics={"valid": True})
    model = _Scripted([answer]).fit(_tiny())
    assert model.recommend([5], 2) is answer


@pytest.mark.parametrize(
    "scores", [(1.0, 2.0), (float("nan"), 1.0), (float("inf"), 1.0), (2.0, float("-inf"))]
)
def test_increasing_or_non_finite_scores_are_a_backend_error(scores: tuple[float, ...]) -> None:
    model = _Scripted([Recommendation((1, 2), scores)]).fit(_tiny())
    with pytest.raises(BackendError, match="_Scripted"):
        model.recommend([], 2)


def test_work_is_chunked_and_order_kept() -> None:
    model = _Scripted([Recommendation((7,), (1.0,))]).fit(_tiny())
    profiles = [[1], [2], [3], [4], [5]]
    out = model.recommend_many(profiles, 1, progress=False)
    assert len(out) == 5
    assert model.calls == [[(1,), (2,)], [(3,), (4,)], [(5,)]]


def test_wrong_number_of_answers_is_a_backend_error() -> None:
    class Short(_Scripted):
        def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
            return []

    model = Short([]).fit(_tiny())
    with pytest.raises(BackendError, match="0 recommendations for 1 profiles"):
        model.recommend([1], 3)


def test_not_fitted_error_names_the_class_and_the_fix() -> None:
    with pytest.raises(NotFittedError, match=r"ItemKNNRecommender is not fitted.*call fit"):
        ItemKNNRecommender().recommend([1], 3)


def test_failed_fit_leaves_the_model_unfitted() -> None:
    model = PopularityRecommender().fit(_tiny())
    with pytest.raises(AttributeError):
        model.fit("not ratings")  # type: ignore[arg-type]
    assert not model.is_fitted


def test_profiles_are_validated() -> None:
    model = PopularityRecommender().fit(_tiny())
    with pytest.raises(ConfigError, match=r"sequence of movie ids.*recommend"):
        model.recommend_many([10, 20], 3)  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="integer movie ids"):
        model.recommend(["ten"], 3)  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="integer movie ids"):
        model.recommend([True], 3)
    with pytest.raises(ConfigError):
        model.recommend_many("10 20", 3)  # type: ignore[arg-type]
    assert model.recommend([np.int64(10)], 3).movie_ids == (20,)


def test_config_object_or_keywords() -> None:
    config = ItemKNNConfig(n_neighbours=7)
    assert ItemKNNRecommender(config).config is config
    assert ItemKNNRecommender(n_neighbours=7).config == config
    with pytest.raises(ConfigError, match="either a config object or keyword options"):
        ItemKNNRecommender(config, shrinkage=1.0)
    with pytest.raises(ConfigError, match="expects a ItemKNNConfig"):
        ItemKNNRecommender(_ScriptConfig())


def test_config_errors_name_the_field_and_value() -> None:
    with pytest.raises(ConfigError, match=r"n_neighbours: .*greater than or equal to 1.*got -2"):
        ItemKNNRecommender(n_neighbours=-2)


def test_from_config() -> None:
    model = ItemKNNRecommender(n_neighbours=5, shrinkage=2.5)
    data = model.to_config()
    assert data == {
        "name": "itemknn",
        "config": {"n_neighbours": 5, "min_rating": 1, "weighting": "binary", "shrinkage": 2.5},
    }
    assert isinstance(Recommender.from_config(data), ItemKNNRecommender)
    with pytest.raises(ConfigError, match="registered as 'itemknn', not 'ease'"):
        ItemKNNRecommender.from_config({"name": "ease", "config": {}})
    with pytest.raises(ConfigError, match="keys 'name' and 'config'"):
        Recommender.from_config({"name": "itemknn"})
    assert model.get_params()["n_neighbours"] == 5
    assert repr(model).startswith("ItemKNNRecommender(n_neighbours=5,")


def test_recommendation_checks_lengths_and_serialises() -> None:
    with pytest.raises(ValueError, match="one score per movie"):
        Recommendation((1, 2), (1.0,))
    rec = Recommendation((1,), (0.5,), usage={"prompt_tokens": 3}, cost_usd=0.01, cached=True)
    assert rec.to_dict()["usage"] == {"prompt_tokens": 3}
    assert len(rec) == 1
