"""A minimal llmrec plugin: ``random-example`` ranks the training movies by a seeded shuffle."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from llmrec.recommenders import Recommendation, Recommender

if TYPE_CHECKING:
    from llmrec.data import Catalog, Ratings
    from llmrec.truth.dataset import ProfileDataset

__all__ = ["RandomConfig", "RandomRecommender"]


class RandomConfig(BaseModel):
    """Options of :class:`RandomRecommender`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, ge=0, description="Seed of the shuffle; same seed, same ranking.")


class RandomRecommender(Recommender):
    """Every profile gets one fixed random order of the training movies, minus its own.

    The order is drawn once in ``fit`` from ``seed`` (over the movie ids sorted ascending), so
    the answer never depends on which profiles are asked for together. Scores count down from
    the number of movies, so they never increase along a list.
    """

    name = "random-example"
    config_class = RandomConfig
    config: RandomConfig

    order_: npt.NDArray[np.int64]

    def _fit(
        self,
        ratings: Ratings,
        catalog: Catalog | None,
        examples: ProfileDataset | None,
    ) -> None:
        movies = np.unique(ratings.movie_id).astype(np.int64)
        self.order_ = np.random.default_rng(self.config.seed).permutation(movies)

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        n = int(self.order_.size)
        out = []
        for profile in profiles:
            own = set(profile)
            head = self.order_[: k + len(own)].tolist()
            ranked = [(m, float(n - i)) for i, m in enumerate(head) if m not in own][:k]
            out.append(Recommendation(tuple(m for m, _ in ranked), tuple(s for _, s in ranked)))
        return out
