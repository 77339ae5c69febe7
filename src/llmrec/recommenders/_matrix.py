"""Shared sparse-matrix plumbing for the classic backends (item-kNN, EASE).

Three pieces, each vectorised with numpy and scipy.sparse:

* :func:`item_index` orders the training movies by popularity (number of training ratings,
  descending, then movie id ascending). Column ``c`` of every matrix built here is the ``c``-th
  most-rated movie, so "restrict to the N most-rated movies" is a column prefix and "break ties by
  popularity, then movie id" is "break ties by column".
* :func:`interaction_matrix` turns :class:`~llmrec.data.Ratings` into a user × item CSR matrix;
  :func:`profile_matrix` turns a batch of profiles into a binary profile × item CSR matrix.
  Movies a model never saw in training have no column and are ignored in profiles.
* :func:`top_k` picks the ``k`` best columns of each row of a dense score block, exactly:
  higher score first, equal scores in column order, ``-inf`` marking excluded columns.
* :func:`rank_candidates` ranks given candidate lists by gathered scores, in the same order
  as the full ranking (higher score first, then column), all profiles in one sort.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from llmrec.data.ratings import Ratings
from llmrec.recommenders.base import Recommendation

if TYPE_CHECKING:  # scipy loads when a model is fitted, not on import
    import scipy.sparse as sp

__all__ = [
    "ItemIndex",
    "index_of",
    "interaction_matrix",
    "item_index",
    "profile_matrix",
    "profile_sums",
    "rank_by_item_sums",
    "rank_candidates",
    "recommendations_from",
    "top_k",
    "top_k_sparse",
]

Weighting = Literal["binary", "rating"]


@dataclass(frozen=True)
class ItemIndex:
    """Movie id ↔ column, with columns in popularity order.

    ``movie_ids[c]`` is the movie of column ``c``; ``counts[c]`` its number of training ratings.
    """

    movie_ids: npt.NDArray[np.int32]
    counts: npt.NDArray[np.int64]
    _sorted_ids: npt.NDArray[np.int32]
    _sorted_cols: npt.NDArray[np.int64]
    _table: npt.NDArray[np.int32] | None

    @property
    def n_items(self) -> int:
        return int(self.movie_ids.shape[0])

    def columns(self, movie_ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Column of each movie id, ``-1`` for a movie without a column."""
        ids = np.asarray(movie_ids, dtype=np.int64)
        if self.n_items == 0 or ids.size == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        if self._table is not None:
            inside = (ids >= 0) & (ids < self._table.size)
            found = self._table[np.where(inside, ids, 0)].astype(np.int64)
            return np.where(inside, found, -1)
        pos = np.searchsorted(self._sorted_ids, ids)
        pos_clipped = np.minimum(pos, self.n_items - 1)
        found = self._sorted_ids[pos_clipped] == ids
        return np.where(found, self._sorted_cols[pos_clipped], -1)

    def head(self, n: int) -> ItemIndex:
        """The index restricted to the ``n`` most-rated movies (a column prefix)."""
        return _make_index(self.movie_ids[:n], self.counts[:n])


# Movie ids below this get a direct lookup table (4 bytes per id) instead of a binary search.
_TABLE_LIMIT = 1 << 22


def _make_index(movie_ids: npt.NDArray[np.int32], counts: npt.NDArray[np.int64]) -> ItemIndex:
    order = np.argsort(movie_ids, kind="stable")
    table = None
    if movie_ids.size and int(movie_ids.min()) >= 0 and int(movie_ids.max()) < _TABLE_LIMIT:
        table = np.full(int(movie_ids.max()) + 1, -1, dtype=np.int32)
        table[movie_ids] = np.arange(movie_ids.size, dtype=np.int32)
    return ItemIndex(
        movie_ids=movie_ids,
        counts=counts,
        _sorted_ids=movie_ids[order],
        _sorted_cols=order.astype(np.int64),
        _table=table,
    )


def index_of(movie_ids: npt.ArrayLike, counts: npt.ArrayLike) -> ItemIndex:
    """An index whose column ``c`` is ``movie_ids[c]`` (already in the wanted order)."""
    return _make_index(np.asarray(movie_ids, dtype=np.int32), np.asarray(counts, dtype=np.int64))


def item_index(ratings: Ratings) -> ItemIndex:
    """Every movie rated in ``ratings``, ordered by rating count (descending), then movie id."""
    ids, counts = np.unique(ratings.movie_id, return_counts=True)
    order = np.lexsort((ids, -counts))
    return _make_index(ids[order].astype(np.int32), counts[order].astype(np.int64))


def interaction_matrix(
    ratings: Ratings,
    index: ItemIndex,
    *,
    min_rating: int = 1,
    weighting: Weighting = "binary",
    dtype: type[np.floating] = np.float32,
) -> sp.csr_matrix:
    """User × item CSR matrix over the columns of ``index``.

    Only ratings of at least ``min_rating`` stars on movies with a column are kept. Rows are the
    distinct users in ascending id order (users with no kept rating give empty rows). With
    ``weighting="binary"`` an entry is 1; with ``"rating"`` it is the star rating. A user who
    rated the same movie more than once counts once (binary) or with the mean rating.
    """
    import scipy.sparse as sp

    cols = index.columns(ratings.movie_id)
    keep = (cols >= 0) & (ratings.rating >= min_rating)
    _, rows = np.unique(ratings.user_id, return_inverse=True)
    n_users = int(rows.max()) + 1 if rows.size else 0
    rows, cols = rows[keep], cols[keep]
    shape = (n_users, index.n_items)
    ones = np.ones(rows.shape[0], dtype=dtype)
    seen = sp.csr_matrix((ones, (rows, cols)), shape=shape, dtype=dtype)
    seen.sum_duplicates()
    if weighting == "binary":
        seen.data[:] = 1
        return seen
    stars = ratings.rating[keep].astype(dtype)
    total = sp.csr_matrix((stars, (rows, cols)), shape=shape, dtype=dtype)
    total.sum_duplicates()
    total.data /= seen.data
    return total


def profile_matrix(profiles: Sequence[Sequence[int]], index: ItemIndex) -> sp.csr_matrix:
    """Binary profile × item CSR matrix; movies without a column are ignored."""
    import scipy.sparse as sp

    lengths = np.fromiter((len(p) for p in profiles), dtype=np.int64, count=len(profiles))
    flat = np.fromiter(
        itertools.chain.from_iterable(profiles), dtype=np.int64, count=int(lengths.sum())
    )
    rows = np.repeat(np.arange(len(profiles), dtype=np.int64), lengths)
    cols = index.columns(flat)
    known = cols >= 0
    data = np.ones(int(known.sum()), dtype=np.float32)
    mat = sp.csr_matrix(
        (data, (rows[known], cols[known])), shape=(len(profiles), index.n_items), dtype=np.float32
    )
    mat.sum_duplicates()
    mat.data[:] = 1
    return mat


def top_k(
    scores: npt.NDArray[np.floating], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.floating]]:
    """The ``min(k, n)`` best columns of each row of ``scores`` (``b × n``), best first.

    Higher scores rank first; equal scores rank in column order (popularity, then movie id);
    ``-inf`` marks an excluded column, which may still appear at the end of a row when fewer
    than ``k`` columns are eligible (callers drop non-finite entries).

    Exact without a full sort: ``np.partition`` finds each row's ``k``-th best value ``t``;
    every column above ``t`` is kept, and of the columns equal to ``t`` the leftmost ones fill
    the remaining places (a cumulative count along the row). The ``k`` kept columns per row are
    then ordered by a stable sort on the score.
    """
    b, n = scores.shape
    kk = min(k, n)
    if b == 0 or kk == 0:
        return np.zeros((b, 0), dtype=np.int64), np.zeros((b, 0), dtype=scores.dtype)
    neg = -scores
    neg.partition(kk - 1, axis=1)
    threshold = -neg[:, kk - 1 : kk]
    above = scores > threshold
    need = kk - above.sum(axis=1)
    tied = scores == threshold
    chosen = above | tied
    # Rows with more tied columns than places left keep only the leftmost ones.
    crowded = np.flatnonzero(tied.sum(axis=1) > need)
    if crowded.size:
        ties = tied[crowded]
        chosen[crowded] = above[crowded] | (ties & (np.cumsum(ties, axis=1) <= need[crowded, None]))
    cols = np.nonzero(chosen)[1].reshape(b, kk)
    vals = np.take_along_axis(scores, cols, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1), np.take_along_axis(vals, order, axis=1)


def top_k_sparse(
    scores: sp.csr_matrix, profiles: sp.csr_matrix, k: int, index: ItemIndex
) -> list[Recommendation]:
    """Top ``k`` per row of non-negative sparse ``scores``, filled up in column order.

    For models whose scores are sparse and ≥ 0 (item-kNN): the positive entries of each row that
    are not profile items rank by score, then column; when fewer than ``k`` remain, the row is
    filled with the lowest-numbered columns (the most popular movies) that have no score and are
    not in the profile, at score 0. The result equals :func:`top_k` on the dense matrix with
    profile columns set to ``-inf``, but only touches the stored entries (packed per row) and a
    short column prefix, never the whole ``b × n`` block.
    """
    b, n = scores.shape
    scores = (scores - scores.multiply(profiles != 0)).tocsr()
    scores.sum_duplicates()
    scores.sort_indices()
    rows = np.repeat(np.arange(b, dtype=np.int64), np.diff(scores.indptr))
    keep = scores.data > 0
    rows, cols, vals = rows[keep], scores.indices[keep].astype(np.int64), scores.data[keep]
    # Pack each row's positive entries, still in column order, into a -inf-padded dense block
    # as wide as the fullest row, and rank that block instead of the b × n one.
    counts = np.bincount(rows, minlength=b)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(rows.size) - starts[rows]
    width = max(int(counts.max(initial=0)), 1)
    packed_vals = np.full((b, width), -np.inf, dtype=np.float64)
    packed_cols = np.zeros((b, width), dtype=np.int64)
    packed_vals[rows, pos] = vals
    packed_cols[rows, pos] = cols
    best, best_vals = top_k(packed_vals, k)
    found = np.isfinite(best_vals)
    rows = np.nonzero(found)[0]
    cols = np.take_along_axis(packed_cols, best, axis=1)[found]
    vals = best_vals[found]
    need = np.minimum(k, n) - found.sum(axis=1)
    if need.max(initial=0) > 0:
        prefix = min(n, 2 * k + int(np.diff(profiles.indptr).max(initial=0)))
        taken = (scores[:, :prefix].toarray() > 0) | (profiles[:, :prefix].toarray() != 0)
        free = ~taken
        fill = free & (np.cumsum(free, axis=1) <= need[:, np.newaxis])
        fill_rows, fill_cols = np.nonzero(fill)
        order = np.argsort(np.concatenate([rows, fill_rows]), kind="stable")
        rows = np.concatenate([rows, fill_rows])[order]
        cols = np.concatenate([cols, fill_cols])[order]
        vals = np.concatenate([vals, np.zeros(fill_rows.size)])[order]
    bounds = np.searchsorted(rows, np.arange(b + 1)).tolist()
    ids = index.movie_ids[cols].tolist()
    values = vals.tolist()
    return [
        Recommendation(tuple(ids[lo:hi]), tuple(values[lo:hi]))
        for lo, hi in itertools.pairwise(bounds)
    ]


def recommendations_from(
    cols: npt.NDArray[np.int64], vals: npt.NDArray[np.floating], index: ItemIndex
) -> list[Recommendation]:
    """One :class:`Recommendation` per row of :func:`top_k`'s output, dropping excluded columns."""
    ids = index.movie_ids[cols]
    finite = np.isfinite(vals)
    out = []
    for row_ids, row_vals, row_ok in zip(ids.tolist(), vals.tolist(), finite.tolist(), strict=True):
        if all(row_ok):
            out.append(Recommendation(tuple(row_ids), tuple(row_vals)))
        else:
            kept = [(m, v) for m, v, ok in zip(row_ids, row_vals, row_ok, strict=True) if ok]
            out.append(Recommendation(tuple(m for m, _ in kept), tuple(v for _, v in kept)))
    return out


#: Scores of the (row, column) pairs asked for, as float64 (see :func:`rank_candidates`).
Gather = Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.float64]]


def profile_sums(
    p: sp.csr_matrix,
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    weight: Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.ArrayLike],
) -> npt.NDArray[np.float32]:
    """``Σ_{i in profile rows[j]} W[i, cols[j]]`` for every ``j``, where ``weight(items, cols)``
    gives ``W``'s entries; added in float32 over each profile's columns in ascending order, the
    additions ``p @ W`` makes for that entry, without forming the product's dense rows."""
    total = np.zeros(rows.size, dtype=np.float32)
    starts, ends = p.indptr[rows], p.indptr[rows + 1]
    for step in range(int((ends - starts).max(initial=0))):
        on = np.flatnonzero(ends - starts > step)
        total[on] += np.asarray(weight(p.indices[starts[on] + step], cols[on]), np.float32).ravel()
    return total


def rank_by_item_sums(
    profiles: Sequence[Sequence[int]],
    candidates: Sequence[Sequence[int]],
    index: ItemIndex,
    k: int | None,
    weight: Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.ArrayLike],
    *,
    floor: float | None = None,
) -> list[Recommendation]:
    """:func:`rank_candidates` for an item-item model (EASE, item-kNN): candidate ``c`` of
    profile ``r`` scores ``Σ_{i in profile r} W[i, c]`` (:func:`profile_sums`, the additions
    ``p @ W`` makes), at least ``floor`` when given."""
    p = profile_matrix(profiles, index)

    def gather(rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        total = profile_sums(p, rows, cols, weight).astype(np.float64)
        return total if floor is None else np.maximum(total, floor)

    return rank_candidates(candidates, index, k, gather)


def rank_candidates(
    candidates: Sequence[Sequence[int]],
    index: ItemIndex,
    k: int | None,
    gather: Gather,
    *,
    by_column: bool = False,
) -> list[Recommendation]:
    """Rank each row's candidates exactly as the full ranking would order them.

    ``gather(rows, cols)`` returns the score of candidate column ``cols[j]`` for profile
    ``rows[j]``. Candidates rank by score (higher first), equal scores by column (popularity,
    then movie id), the order of :func:`top_k`; with ``by_column=True`` by column alone (the
    column is the rank, as for the popularity ranking). Candidates without a column (unknown
    to the model) come last in ascending movie id, scored one below the row's lowest score and
    at most -1, and are counted in ``diagnostics["n_unscored"]``. One gather and one
    ``np.lexsort`` over every (profile, candidate) pair (row by row when all lists have the same
    length); ``k=None`` keeps every candidate.
    """
    b = len(candidates)
    lengths = np.fromiter((len(c) for c in candidates), dtype=np.int64, count=b)
    flat = np.fromiter(
        itertools.chain.from_iterable(candidates), dtype=np.int64, count=int(lengths.sum())
    )
    rows = np.repeat(np.arange(b, dtype=np.int64), lengths)
    cols = index.columns(flat)
    known = cols >= 0
    scores = np.zeros(flat.size, dtype=np.float64)
    if known.any():
        scores[known] = gather(rows[known], cols[known])
    primary = cols.astype(np.float64) if by_column else -scores
    primary[~known] = np.inf
    tie = np.where(known, cols, index.n_items)
    width = int(lengths[0]) if b else 0
    if b and width and bool((lengths == width).all()):
        # Equal-length lists (the usual 1 + 19): sort each row on its own, b short sorts.
        local = np.lexsort(
            (flat.reshape(b, width), tie.reshape(b, width), primary.reshape(b, width)), axis=-1
        )
        order = (local + np.arange(b)[:, np.newaxis] * width).ravel()
    else:
        order = np.lexsort((flat, tie, primary, rows))
    low = np.zeros(b, dtype=np.float64)
    np.minimum.at(low, rows[known], scores[known])
    scores[~known] = low[rows[~known]] - 1.0
    ids = flat[order].tolist()
    values = scores[order].tolist()
    unscored = np.bincount(rows[~known], minlength=b).tolist()
    out = []
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    for row, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        stop = hi if k is None else min(hi, lo + k)
        out.append(
            Recommendation(
                tuple(ids[lo:stop]),
                tuple(values[lo:stop]),
                diagnostics={"n_unscored": unscored[row]} if unscored[row] else {},
            )
        )
    return out
