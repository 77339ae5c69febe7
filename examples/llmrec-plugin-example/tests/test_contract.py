"""The plugin passes llmrec's conformance suite, found by name like any backend."""

from __future__ import annotations

from llmrec.recommenders import Recommender, get_recommender
from llmrec.testing.contract import RecommenderContract


class TestRandomExample(RecommenderContract):
    def make_recommender(self) -> Recommender:
        return get_recommender("random-example", seed=3)
