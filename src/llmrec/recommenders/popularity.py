"""``popularity``: the most-rated (or most 5-starred) movies of the training data.

The simplest baseline there is, and a surprisingly strong one on Netflix-style data: every
profile gets the same global ranking, minus its own movies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from llmrec.recommenders._matrix import ItemIndex, index_of, rank_candidates
from llmrec.recommenders.base import RatingsRecommender, Recommendation

if TYPE_CHECKING:
    from llmrec.data.ratings import Ratings

__all__ = ["PopularityConfig", "PopularityRecommender"]


class PopularityConfig(BaseModel):
    """Options of :class:`PopularityRecommender`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: Literal["count", "five_star"] = Field(
        "count",
        description=(
            "Rank by the number of training ratings ('count') or of 5-star ratings ('five_star')."
        ),
    )


class PopularityRecommender(RatingsRecommender):
    """Recommend the training data's most popular movies.

    The score of a movie is its number of training ratings (``by="count"``) or of 5-star
    ratings (``by="five_star"``). Equal scores rank by the number of ratings, then by movie id
    ascending. Only movies that appear in the training ratings are recommended.
    """

    name = "popularity"
    config_class = PopularityConfig
    config: PopularityConfig

    movie_ids_: npt.NDArray[np.int32]
    scores_: npt.NDArray[np.float64]
    index_: ItemIndex

    def _fit_ratings(self, ratings: Ratings) -> None:
        ids, inverse, counts = np.unique(ratings.movie_id, return_inverse=True, return_counts=True)
        if self.config.by == "count":
            score = counts.astype(np.float64)
        else:
            five = ratings.rating == 5
            score = np.bincount(inverse[five], minlength=ids.size).astype(np.float64)
        order = np.lexsort((ids, -counts, -score))
        self.movie_ids_ = ids[order].astype(np.int32)
        self.scores_ = score[order]
        self.index_ = index_of(self.movie_ids_, counts[order])

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        # One global ranking: the first k + len(profile) entries always hold the answer, so each
        # profile only filters a short prefix (no per-profile scoring to vectorise).
        out = []
        for profile in profiles:
            own = set(profile)
            head = min(k + len(own), self.movie_ids_.size)
            ids = self.movie_ids_[:head].tolist()
            scores = self.scores_[:head].tolist()
            kept = [(m, s) for m, s in zip(ids, scores, strict=True) if m not in own][:k]
            out.append(Recommendation(tuple(m for m, _ in kept), tuple(s for _, s in kept)))
        return out

    def _rank_many(
        self, profiles: list[tuple[int, ...]], candidates: list[tuple[int, ...]], k: int | None
    ) -> list[Recommendation]:
        # The column of a movie is its place in the global ranking: sort the candidates by it.
        scores = self.scores_
        return rank_candidates(
            candidates, self.index_, k, lambda rows, cols: scores[cols], by_column=True
        )
