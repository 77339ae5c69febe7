"""Every backend shipped here, and the example plugin found by name, pass the conformance suite."""

from __future__ import annotations

from llmrec.recommenders import (
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommender,
    get_recommender,
)
from llmrec.testing.contract import RecommenderContract


class TestPopularityByCount(RecommenderContract):
    def make_recommender(self) -> Recommender:
        return PopularityRecommender()


class TestPopularityByFiveStar(RecommenderContract):
    def make_recommender(self) -> Recommender:
        return get_recommender("popularity", by="five_star")


class TestItemKNN(RecommenderContract):
    def make_recommender(self) -> Recommender:
        return ItemKNNRecommender()


class TestItemKNNPrunedShrunkWeighted(RecommenderContract):
    k = 8

    def make_recommender(self) -> Recommender:
        return get_recommender(
            "itemknn", n_neighbours=2, shrinkage=5.0, weighting="rating", min_rating=3
        )


class TestEASE(RecommenderContract):
    def make_recommender(self) -> Recommender:
        return EASERecommender()


class TestEASERestricted(RecommenderContract):
    k = 12

    def make_recommender(self) -> Recommender:
        return get_recommender("ease", l2=10.0, max_items=10, min_rating=4)


class TestThirdPartyPlugin(RecommenderContract):
    """The example package in examples/llmrec-plugin-example, installed into the environment."""

    def make_recommender(self) -> Recommender:
        model = get_recommender("random-example", seed=11)
        assert type(model).__module__ == "llmrec_plugin_example"
        return model
