"""``ease``: EASE, the closed-form linear item-item model.

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019. With ``X`` the binary
user × item matrix, EASE learns the item-item weights ``B`` minimising
``‖X − XB‖²_F + λ‖B‖²_F`` subject to ``diag(B) = 0``, whose solution is::

    P = (XᵀX + λI)⁻¹
    B = I − P · diagMat(1 / diag(P))        (so B_ij = −P_ij / P_jj for i ≠ j, B_jj = 0)

and a profile ``p`` (binary over items) scores the items as ``p B``. The inverse is dense
(items × items), so the model is restricted to the ``max_items`` most-rated movies: movies
outside them are neither scored nor used from profiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from llmrec.errors import BackendError
from llmrec.recommenders._matrix import (
    ItemIndex,
    interaction_matrix,
    item_index,
    profile_matrix,
    rank_by_item_sums,
    recommendations_from,
    top_k,
)
from llmrec.recommenders.base import RatingsRecommender, Recommendation

if TYPE_CHECKING:
    import scipy.sparse as sp

    from llmrec.data.ratings import Ratings

__all__ = ["EASEConfig", "EASERecommender", "ease_weights"]


class EASEConfig(BaseModel):
    """Options of :class:`EASERecommender`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    l2: float = Field(
        500.0, gt=0.0, description="L2 regularisation λ added to the diagonal of XᵀX."
    )
    max_items: int = Field(
        5000,
        ge=1,
        le=50_000,
        description=(
            "Model only the most-rated movies; memory and time grow as max_items² and "
            "max_items³ (5,000 items: about 0.3 GB while fitting, 100 MB fitted)."
        ),
    )
    min_rating: int = Field(
        1, ge=1, le=5, description="Only ratings of at least this many stars are interactions."
    )


def ease_weights(
    gram: npt.NDArray[np.float64], l2: float, *, overwrite: bool = False
) -> npt.NDArray[np.float64]:
    """EASE's ``B`` from the Gram matrix ``XᵀX`` (Steck 2019, eq. 8).

    ``P = (G + λI)⁻¹`` through a Cholesky factorisation (LAPACK ``potrf`` then ``potri``: about
    half the work of a general inverse), then ``B = −P / diag(P)`` column-wise with a zero
    diagonal. With ``overwrite=True`` a float64 ``gram`` is reused for ``B``, so fitting needs one
    dense ``items × items`` matrix instead of several.
    """
    from scipy.linalg import lapack

    # G is symmetric, so its transpose is the same matrix in the Fortran order LAPACK works in.
    a = (np.asarray(gram, dtype=np.float64) if overwrite else np.array(gram, np.float64)).T
    if not a.flags.f_contiguous:
        a = np.asfortranarray(a)
    a[np.diag_indices_from(a)] += l2
    factor, info = lapack.dpotrf(a, lower=0, clean=1, overwrite_a=1)
    if info != 0:
        raise BackendError(f"EASE: XᵀX + λI is not positive definite (LAPACK info {info})")
    p, info = lapack.dpotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise BackendError(f"EASE: inverting XᵀX + λI failed (LAPACK info {info})")
    _mirror_upper(p)
    p /= -np.diag(p)[np.newaxis, :]
    np.fill_diagonal(p, 0.0)
    weights: npt.NDArray[np.float64] = p
    return weights


def _mirror_upper(a: npt.NDArray[np.float64], block: int = 512) -> None:
    """Copy the upper triangle onto the lower one in place, a block of rows at a time."""
    n = a.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        a[start:stop, :start] = a[:start, start:stop].T
        diag = a[start:stop, start:stop]
        diag[...] = np.triu(diag) + np.triu(diag, 1).T


def _gram(x: sp.csr_matrix, block: int = 1024) -> npt.NDArray[np.float64]:
    """Dense ``XᵀX``, built a block of rows at a time to bound the sparse intermediates."""
    n = x.shape[1]
    xt = x.T.tocsr()
    gram = np.empty((n, n), dtype=np.float64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        gram[start:stop] = (xt[start:stop] @ x).toarray()
    return gram


class EASERecommender(RatingsRecommender):
    """EASE on the ``max_items`` most-rated training movies.

    Scores may be negative. Equal scores rank by training popularity, then movie id (an empty
    profile gets the popularity ranking of the modelled movies). Profile movies outside the
    modelled ones are ignored.
    """

    name = "ease"
    config_class = EASEConfig
    config: EASEConfig

    index_: ItemIndex
    weights_: npt.NDArray[np.float32]

    def _fit_ratings(self, ratings: Ratings) -> None:
        cfg = self.config
        index = item_index(ratings).head(cfg.max_items)
        x = interaction_matrix(ratings, index, min_rating=cfg.min_rating, dtype=np.float64)
        self.index_ = index
        # C order: ``profiles @ weights_`` reads rows; a Fortran-ordered matrix would be copied
        # whole on every call.
        weights = ease_weights(_gram(x), cfg.l2, overwrite=True)
        self.weights_ = np.ascontiguousarray(weights, dtype=np.float32)

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        p = profile_matrix(profiles, self.index_)
        scores = np.asarray(p @ self.weights_, dtype=np.float32)
        rows, cols = p.nonzero()
        scores[rows, cols] = -np.inf
        best, values = top_k(scores, k)
        return recommendations_from(best, values, self.index_)

    def _rank_many(
        self, profiles: list[tuple[int, ...]], candidates: list[tuple[int, ...]], k: int | None
    ) -> list[Recommendation]:
        weights = self.weights_  # score(r, c) = Σ_{i in profile r} B[i, c], as ``p @ B`` adds it
        return rank_by_item_sums(profiles, candidates, self.index_, k, lambda i, c: weights[i, c])
