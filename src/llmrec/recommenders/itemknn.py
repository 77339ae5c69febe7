"""``itemknn``: item-based top-N recommendation with cosine similarity.

Deshpande & Karypis, "Item-Based Top-N Recommendation Algorithms", ACM TOIS 22(1), 2004.
With ``X`` the user × item interaction matrix (binary, or the star ratings), the similarity of
items ``i`` and ``j`` is the cosine of their columns, optionally shrunk towards zero::

    sim(i, j) = x_iᵀ x_j / (‖x_i‖ ‖x_j‖ + shrinkage)

Each item keeps only its ``n_neighbours`` most similar other items (row ``i`` of the sparse
model ``S``). A profile ``p`` (binary over items) scores every candidate ``j`` as the sum of the
similarities from the profile's items that keep ``j`` as a neighbour: ``score = p S``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from llmrec.recommenders._matrix import (
    ItemIndex,
    interaction_matrix,
    item_index,
    profile_matrix,
    rank_by_item_sums,
    top_k,
    top_k_sparse,
)
from llmrec.recommenders.base import RatingsRecommender, Recommendation

if TYPE_CHECKING:
    import scipy.sparse as sp

    from llmrec.data.ratings import Ratings

__all__ = ["ItemKNNConfig", "ItemKNNRecommender"]

# Dense similarity blocks hold at most this many entries (float32: 64 MiB).
_BLOCK_ENTRIES = 16_000_000


class ItemKNNConfig(BaseModel):
    """Options of :class:`ItemKNNRecommender`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_neighbours: int = Field(
        100, ge=1, description="Similar items kept per item (the N of top-N neighbours)."
    )
    min_rating: int = Field(
        1, ge=1, le=5, description="Only ratings of at least this many stars are interactions."
    )
    weighting: Literal["binary", "rating"] = Field(
        "binary",
        description="Interaction value: 1 ('binary') or the star rating ('rating').",
    )
    shrinkage: float = Field(
        0.0,
        ge=0.0,
        description="Added to the cosine denominator; damps similarities from few co-raters.",
    )


class ItemKNNRecommender(RatingsRecommender):
    """Item-item cosine k-nearest-neighbours on the sparse rating matrix.

    Scores are sums of similarities (always ≥ 0). Equal scores rank by training popularity, then
    movie id, so when fewer than ``k`` movies have a positive score the list is filled with the
    most-rated remaining movies at score 0 (an empty profile gets the popularity ranking).
    Profile movies absent from the training ratings are ignored.
    """

    name = "itemknn"
    config_class = ItemKNNConfig
    config: ItemKNNConfig

    index_: ItemIndex
    similarity_: sp.csr_matrix

    def _fit_ratings(self, ratings: Ratings) -> None:
        cfg = self.config
        index = item_index(ratings)
        x = interaction_matrix(ratings, index, min_rating=cfg.min_rating, weighting=cfg.weighting)
        self.index_ = index
        self.similarity_ = _top_n_cosine(x, cfg.n_neighbours, cfg.shrinkage)

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        p = profile_matrix(profiles, self.index_)
        return top_k_sparse(p @ self.similarity_, p, k, self.index_)

    def _rank_many(
        self, profiles: list[tuple[int, ...]], candidates: list[tuple[int, ...]], k: int | None
    ) -> list[Recommendation]:
        # score(r, c) = Σ_{i in profile r} S[i, c], as ``p @ S`` adds it (absent entries add
        # nothing; similarities are never negative)
        similarity = self.similarity_
        return rank_by_item_sums(
            profiles, candidates, self.index_, k, lambda i, c: similarity[i, c], floor=0.0
        )


def _top_n_cosine(x: sp.csr_matrix, n_neighbours: int, shrinkage: float) -> sp.csr_matrix:
    """Row ``i``: the ``n_neighbours`` items most cosine-similar to item ``i`` (self excluded).

    The Gram matrix ``XᵀX`` is built one block of items at a time, so memory stays bounded by
    ``_BLOCK_ENTRIES`` dense entries however many items there are. Zero similarities are not
    kept; equal similarities keep the more popular item (lower column).
    """
    import scipy.sparse as sp

    n_items = x.shape[1]
    xt = x.T.tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0), dtype=np.float64).ravel())
    # Items nobody interacted with have norm 0 and similarity 0 to everything.
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
    keep = min(n_neighbours, max(n_items - 1, 0))
    block = max(1, _BLOCK_ENTRIES // max(n_items, 1))
    indptr = [np.zeros(1, dtype=np.int64)]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        sim = np.asarray((xt[start:stop] @ x).toarray(), dtype=np.float32)
        if shrinkage > 0:
            sim /= np.outer(norms[start:stop], norms).astype(np.float32) + np.float32(shrinkage)
        else:
            sim *= inverse[start:stop, np.newaxis]
            sim *= inverse[np.newaxis, :]
        rows = np.arange(stop - start)
        sim[rows, rows + start] = -np.inf
        if keep == 0:
            counts = np.zeros(stop - start, dtype=np.int64)
        else:
            cols, vals = top_k(sim, keep)
            positive = vals > 0
            counts = positive.sum(axis=1)
            indices.append(cols[positive])
            data.append(vals[positive].astype(np.float32))
        indptr.append(indptr[-1][-1] + np.cumsum(counts))
    model = sp.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, dtype=np.float32),
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
            np.concatenate(indptr),
        ),
        shape=(n_items, n_items),
    )
    model.sort_indices()
    return model
