"""Recommenders: one contract, found by name through entry points.

``get_recommender("ease", l2=300)`` builds any registered backend, built-in or plugin;
``available_recommenders()`` lists the names. Every backend subclasses :class:`Recommender`
(``fit(ratings, catalog, examples)``, ``recommend(profile, k)``, ``recommend_many(profiles, k)``)
and returns :class:`Recommendation` objects. Language-model backends are the pipeline of
``llmrec.recommenders.llm`` with a transport, and implement the capability protocol of
``llmrec.recommenders.capabilities``; the OpenAI backends live in ``llmrec.recommenders.openai``
and are imported only when asked for. The sequential backends (``sasrec``, ``gru4rec``) read a
profile as a time-ordered sequence and import torch only when fitted.
"""

from llmrec.recommenders.base import Profile, Recommendation, Recommender
from llmrec.recommenders.ease import EASEConfig, EASERecommender
from llmrec.recommenders.itemknn import ItemKNNConfig, ItemKNNRecommender
from llmrec.recommenders.popularity import PopularityConfig, PopularityRecommender
from llmrec.recommenders.ranking import RepeatedRanking, rank_with_repeats
from llmrec.recommenders.registry import available_recommenders, get_recommender
from llmrec.recommenders.sequential import (
    GRU4RecConfig,
    GRU4RecRecommender,
    SASRecConfig,
    SASRecRecommender,
)

__all__ = [
    "EASEConfig",
    "EASERecommender",
    "GRU4RecConfig",
    "GRU4RecRecommender",
    "ItemKNNConfig",
    "ItemKNNRecommender",
    "PopularityConfig",
    "PopularityRecommender",
    "Profile",
    "Recommendation",
    "Recommender",
    "RepeatedRanking",
    "SASRecConfig",
    "SASRecRecommender",
    "available_recommenders",
    "get_recommender",
    "rank_with_repeats",
]
