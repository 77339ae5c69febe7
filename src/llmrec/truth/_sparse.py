"""The sparse matrices the ground truth is computed from, built once per ratings table.

Users and movies are renumbered densely (in raw-id order) and three CSR matrices are built with
scipy's O(nnz) counting sort, never a Python loop over ratings:

- ``rated`` (users x movies): every rating; its data is a sort key ``stars << 27 | day`` (day
  counted from the earliest date), so a target's profile order and star filters need no other
  array;
- ``watched`` (users x movies, int32 ones): ratings with at least ``watched_min_rating`` stars;
  it shares ``rated``'s index arrays when every rating qualifies;
- ``fans`` (movies x users, int32 ones): ratings with at least ``neighbour_min_rating`` stars,
  i.e. the transpose used to find neighbours;
- ``watched_hot``: ``watched`` without the movies too rarely watched to ever reach the watch
  factor for a target with ``max_neighbours`` neighbours (a movie watched by ``w`` users has at
  most ``w`` watching neighbours). Most targets of a large data set have that many neighbours,
  and on Netflix-like data this drops about a third of the entries the counting product reads.
  It is a :class:`HotMatrix`: its columns are renumbered over the movies it keeps (4,724 of
  Netflix's 17,770), so its column indices fit in 2 bytes (half the memory traffic of the
  counting, its heaviest step) and a target's counts fit in the CPU's L1 cache.

Every indicator's data is a view of one shared buffer of ones in the smallest integer type the
counts fit in (:func:`count_dtype`: int16 when at most 32,767 neighbours are kept, as in the
study), so the 100M-entry ``watched`` costs 2 bytes an entry of data, and both operands of each
product have the same type: scipy multiplies them without converting (copying) the large matrix.
The rating columns are read once; when they are read-only memory maps (``Ratings.load``), their
pages are handed back to the page cache after use, so they do not stay in this process's memory.
"""

from __future__ import annotations

import contextlib
import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from llmrec.data.ratings import Ratings
from llmrec.errors import DataFormatError
from llmrec.truth.config import TruthConfig

__all__ = [
    "STAR_SHIFT",
    "Core",
    "HotMatrix",
    "build_core",
    "count_dtype",
    "forget_shared_ones",
    "mapped_core",
    "ones_like",
    "release_pages",
    "without_rare_movies",
]

STAR_SHIFT = 27  # stars live above bit 27 of the sort key; days below it
_DAY_LIMIT = 1 << STAR_SHIFT

IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True)
class HotMatrix:
    """A users x movies indicator restricted to some movies, with those columns renumbered.

    Row ``u`` holds the positions in ``movies`` (ascending; ``uint16`` when there are at most
    65,536 of them, else ``int32``) of the kept movies ``u`` watched; ``movies`` gives the dense
    movie index of each position. :meth:`to_csr` is the same matrix as a scipy CSR over every
    movie (for the scipy and torch counting paths).
    """

    indptr: npt.NDArray[np.int32]
    indices: npt.NDArray[np.uint16] | npt.NDArray[np.int32]
    movies: npt.NDArray[np.int32]
    shape: tuple[int, int]  # (users, all movies)
    dtype: np.dtype[np.integer]  # of the counts (the indicators' data type)

    @property
    def nnz(self) -> int:
        return int(self.indices.shape[0])

    def to_csr(self) -> sp.csr_array:
        """The matrix over every movie (int32 indices, ones of ``dtype``); built once."""
        held = _AS_CSR.get(id(self))
        if held is None or held[0] is not self:
            if len(_AS_CSR) >= 2:
                _AS_CSR.clear()
            indices = self.movies[self.indices]
            ones = _ones(indices.size, self.dtype)
            held = (self, sp.csr_array((ones, indices, self.indptr), shape=self.shape, copy=False))
            _AS_CSR[id(self)] = held
        return held[1]


_AS_CSR: dict[int, tuple[HotMatrix, sp.csr_array]] = {}


@dataclass(frozen=True)
class Core:
    """Everything a worker needs to process a batch of targets (picklable, read-only)."""

    user_ids: npt.NDArray[np.int32]  # raw id of dense user index
    movie_ids: npt.NDArray[np.int32]  # raw id of dense movie index
    rated: sp.csr_array
    watched: sp.csr_array
    fans: sp.csr_array
    popularity: npt.NDArray[np.int64]  # ratings per movie (all stars)
    five_star: npt.NDArray[np.int64]  # 5-star ratings per user
    watchers: npt.NDArray[np.int64]  # entries of ``watched`` per movie
    watched_hot: HotMatrix | None = None  # see the module docstring
    hot_need: int = 0  # watched_hot serves targets whose needed count is at least this

    @property
    def n_users(self) -> int:
        return int(self.user_ids.shape[0])

    @property
    def n_movies(self) -> int:
        return int(self.movie_ids.shape[0])


def _dense_index(raw: npt.NDArray[np.int32]) -> tuple[npt.NDArray[np.int32], IntArray]:
    """Sorted distinct ids and each row's position among them (a lookup table when compact)."""
    if raw.size == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    lo, hi = int(raw.min()), int(raw.max())
    if hi - lo <= 4 * raw.size + 1_000_000:
        # a table from 0 when the ids start near it: the ids index it as they are
        base = 0 if 0 <= lo <= 1_000_000 else lo
        offset = raw if base == 0 else np.subtract(raw, base, dtype=np.int64)
        present = np.zeros(hi - base + 1, dtype=np.bool_)
        present[offset] = True
        distinct = (np.flatnonzero(present) + base).astype(np.int32)
        if distinct.size == hi - lo + 1:  # every id in the range (Netflix's movies): no lookup
            return distinct, np.subtract(raw, lo, dtype=np.int32)
        lookup = np.cumsum(present, dtype=np.int32) - 1
        return distinct, lookup[offset]
    distinct, inverse = np.unique(raw, return_inverse=True)
    return distinct.astype(np.int32), inverse.astype(np.int32)


def _day_key(date: npt.NDArray[np.datetime64]) -> IntArray:
    """Days since the earliest date, or the dates' dense rank if the span is too wide."""
    if date.size == 0:
        return np.zeros(0, np.int32)
    days = (date if date.dtype == np.dtype("datetime64[D]") else date.astype("datetime64[D]")).view(
        np.int64
    )
    lo, hi = int(days.min()), int(days.max())
    if lo == np.iinfo(np.int64).min:  # NaT is stored as the smallest int64
        raise DataFormatError("ratings contain a missing date (NaT)")
    if hi - lo < _DAY_LIMIT:
        out = np.empty(days.size, dtype=np.int32)
        np.subtract(days, lo, out=out, casting="unsafe")
        return out
    return np.unique(days, return_inverse=True)[1].astype(np.int32)


def _raise_duplicate(
    rows: IntArray, cols: IntArray, core_users: IntArray, movies: IntArray
) -> None:
    order = np.lexsort((cols, rows))
    r, c = rows[order], cols[order]
    dup = np.flatnonzero((r[1:] == r[:-1]) & (c[1:] == c[:-1]))[0]
    raise DataFormatError(
        "a user rated the same movie twice; the ground truth needs one rating per pair "
        "(deduplicate the ratings first)",
        text=f"user {int(core_users[r[dup]])}, movie {int(movies[c[dup]])}",
    )


_ONES: dict[str, npt.NDArray[np.integer]] = {}


def _ones(n: int, dtype: npt.DTypeLike) -> npt.NDArray[np.integer]:
    """``n`` ones of ``dtype``: a view of one buffer shared by every indicator (never written)."""
    key = np.dtype(dtype).str
    buf = _ONES.get(key)
    if buf is None or buf.size < n:
        buf = np.ones(max(n, 1), dtype=dtype)
        buf.flags.writeable = False
        _ONES[key] = buf
    return buf[:n]


def forget_shared_ones() -> None:
    """Drop this process's reference to the shared ones (matrices built keep their views)."""
    _ONES.clear()


def count_dtype(config: TruthConfig, n_users: int) -> type[np.integer]:
    """The smallest integer type every count fits in: overlaps (at most the profile size) and
    watch counts (at most the number of neighbours kept)."""
    largest = max(config.profile_size, n_users if config.max_neighbours is None else 0)
    largest = max(largest, config.max_neighbours or 0)
    return np.int16 if largest <= np.iinfo(np.int16).max else np.int32


def ones_like(
    matrix: sp.csr_array,
    keep: npt.NDArray[np.bool_] | None,
    dtype: npt.DTypeLike = np.int32,
) -> sp.csr_array:
    """An indicator with ``matrix``'s pattern restricted to the entries in ``keep``.

    Its data is a read-only view of shared ones; the row pointers come from one running count
    of ``keep`` (no per-entry row array).
    """
    if keep is None or bool(keep.all()):
        indices, indptr = matrix.indices, matrix.indptr
    else:
        kept = np.empty(keep.size + 1, dtype=np.int64 if keep.size >= 2**31 else np.int32)
        kept[0] = 0
        np.cumsum(keep, out=kept[1:])
        indptr = kept[matrix.indptr].astype(np.int32, copy=False)
        del kept
        indices = np.ascontiguousarray(matrix.indices[keep], dtype=np.int32)
    ones = _ones(indices.size, dtype)
    return sp.csr_array((ones, indices, indptr), shape=matrix.shape, copy=False)


def release_pages(array: npt.NDArray[np.generic]) -> None:
    """Hand the pages of a read-only memory-mapped array back to the page cache.

    ``Ratings.load`` maps the columns; once read, their pages would count in this process's
    resident memory (and in every forked worker's) for the whole build. Dropping them is safe
    for a read-only shared mapping: the next read faults them in again from the file.
    """
    base: object = array
    while base is not None and not isinstance(base, mmap.mmap):
        if isinstance(base, np.ndarray) and base.flags.writeable:
            return  # a private (copy-on-write) or ordinary array: nothing to hand back
        base = getattr(base, "_mmap", None) or getattr(base, "base", None)
    if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):  # a closed map, an unsupported platform
            base.madvise(mmap.MADV_DONTNEED)


def _grouped(
    rows: IntArray, cols: IntArray, data: npt.NDArray[np.integer], shape: tuple[int, int]
) -> sp.csr_array:
    """The CSR matrix of the (row, col, data) triples, entries of a row in input order.

    One counting sort (scipy's ``coo_tocsr`` kernel), without the checks and the per-row sort
    ``csr_array((data, (rows, cols)))`` adds: the callers sort (or need no order) themselves.
    """
    from scipy.sparse._sparsetools import coo_tocsr  # the kernel behind tocsr (scipy >= 0.7)

    indptr = np.empty(shape[0] + 1, dtype=np.int32)
    indices = np.empty(rows.size, dtype=np.int32)
    values = np.empty(rows.size, dtype=data.dtype)
    coo_tocsr(shape[0], shape[1], rows.size, rows, cols, data, indptr, indices, values)
    return sp.csr_array((values, indices, indptr), shape=shape, copy=False)


def _canonical(matrix: sp.csr_array) -> bool:
    """Whether every row's column indices are strictly increasing (sorted, no duplicate)."""
    from scipy.sparse._sparsetools import csr_has_canonical_format

    return bool(csr_has_canonical_format(matrix.shape[0], matrix.indptr, matrix.indices))


def build_core(ratings: Ratings, config: TruthConfig) -> Core:
    """Renumber users and movies and build the three matrices for ``config``'s star filters.

    ``fans`` is counting-sorted by movie straight from the rating columns (its users in the
    table's order within a movie: the kernels need no order there), so ``rated``'s
    user-by-user sort runs once; ``watched`` is ``rated``'s pattern when every rating counts.
    """
    stars = np.asarray(ratings.rating)
    lowest, highest = (int(stars.min()), int(stars.max())) if stars.size else (0, 0)
    if lowest < 0 or highest > 15:
        raise DataFormatError("ratings must be star counts between 0 and 15", text=str(highest))
    user_ids, rows = _dense_index(np.asarray(ratings.user_id))
    release_pages(np.asarray(ratings.user_id))
    movie_ids, cols = _dense_index(np.asarray(ratings.movie_id))
    release_pages(np.asarray(ratings.movie_id))
    n_users, n_movies = user_ids.size, movie_ids.size
    dtype = count_dtype(config, n_users)
    ones = _ones(stars.size, dtype)  # one buffer for every indicator
    popularity = np.bincount(cols, minlength=n_movies).astype(np.int64)
    good = stars >= config.neighbour_min_rating
    fans = _grouped(cols[good], rows[good], ones[: int(good.sum())], (n_movies, n_users))
    same = config.neighbour_min_rating == 5 and highest <= 5  # then "good" is "5 stars"
    five = good if same else np.equal(stars, 5, out=good)
    five_star = np.bincount(rows[five], minlength=n_users).astype(np.int64)
    del good, five
    key = _day_key(np.asarray(ratings.date))
    release_pages(np.asarray(ratings.date))
    np.bitwise_or(key, np.left_shift(stars, STAR_SHIFT, dtype=np.int32), out=key)
    release_pages(stars)
    rated = _grouped(rows, cols, key, (n_users, n_movies))
    del key
    if not _canonical(rated):  # a table not grouped by movie: sort each user's row
        rated.sort_indices()
        if not _canonical(rated):  # equal neighbours after sorting: a pair rated twice
            _raise_duplicate(rows, cols, user_ids, movie_ids)
    del rows, cols
    rated.has_canonical_format = True
    if lowest >= config.watched_min_rating:  # every rating counts as watched
        watched = ones_like(rated, None, dtype)
        watchers = popularity.copy()
    else:
        keep = (rated.data >> STAR_SHIFT) >= config.watched_min_rating
        watched = ones_like(rated, keep, dtype)
        del keep
        watchers = np.bincount(watched.indices, minlength=n_movies).astype(np.int64)
    hot, hot_need = _hot(watched, watchers, config)
    return Core(
        user_ids, movie_ids, rated, watched, fans, popularity, five_star, watchers, hot, hot_need
    )


def without_rare_movies(core: Core, threshold: int) -> sp.csr_array:
    """``watched`` restricted to movies with at least ``threshold`` watchers (one pass)."""
    keep = core.watchers[core.watched.indices] >= threshold
    return ones_like(core.watched, keep, core.watched.data.dtype)


_HOT_MIN_SAVING = 0.05  # build watched_hot only when it drops at least this share of entries


def _hot(
    watched: sp.csr_array, watchers: npt.NDArray[np.int64], config: TruthConfig
) -> tuple[HotMatrix | None, int]:
    if config.max_neighbours is None or watched.nnz == 0:
        return None, 0
    frac = config.watch_fraction()
    need = -(-frac.numerator * config.max_neighbours // frac.denominator)
    hot_movie = watchers >= need
    if watchers[hot_movie].sum() > (1.0 - _HOT_MIN_SAVING) * watched.nnz:
        return None, 0
    movies = np.flatnonzero(hot_movie).astype(np.int32)
    small = movies.size <= 1 << 16
    position = np.zeros(watchers.size, dtype=np.uint16 if small else np.int32)
    position[movies] = np.arange(movies.size)
    keep = hot_movie[watched.indices]
    kept = np.empty(keep.size + 1, dtype=np.int64 if keep.size >= 2**31 else np.int32)
    kept[0] = 0
    np.cumsum(keep, out=kept[1:])
    indptr = kept[watched.indptr].astype(np.int32, copy=False)
    del kept
    indices = position[watched.indices][keep]  # 2 bytes an entry
    del keep
    return HotMatrix(indptr, indices, movies, watched.shape, watched.data.dtype), need


def mapped_core(core: Core, folder: str | Path) -> Core:
    """``core`` with its large arrays written to ``folder`` and memory-mapped back (read-only).

    Local workers forked afterwards map the same files: each touches only the pages it reads
    (a worker's resident memory is what it uses, not a copy of the parent's), and the page
    cache holds one copy for all of them. The caller drops the original core.
    """
    out = Path(folder)
    saved: dict[int, npt.NDArray[np.generic]] = {}

    def keep(name: str, array: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if id(array) not in saved:
            path = out / f"{name}.npy"
            np.save(path, np.ascontiguousarray(array), allow_pickle=False)
            saved[id(array)] = np.load(path, mmap_mode="r", allow_pickle=False)
        return saved[id(array)]

    matrices = [core.rated, core.watched, core.fans]
    dtype = core.watched.data.dtype
    ones = keep("ones", np.ones(max(m.nnz for m in matrices), dtype=dtype))

    def csr(name: str, matrix: sp.csr_array, indicator: bool) -> sp.csr_array:
        data = ones[: matrix.nnz] if indicator else keep(f"{name}_data", matrix.data)
        parts = (
            data,
            keep(f"{name}_indices", matrix.indices),
            keep(f"{name}_indptr", matrix.indptr),
        )
        return sp.csr_array(parts, shape=matrix.shape, copy=False)

    hot = core.watched_hot
    return Core(
        core.user_ids,
        core.movie_ids,
        csr("rated", core.rated, False),
        csr("watched", core.watched, True),
        csr("fans", core.fans, True),
        core.popularity,
        core.five_star,
        core.watchers,
        None
        if hot is None
        else HotMatrix(
            keep("hot_indptr", hot.indptr),
            keep("hot_indices", hot.indices),
            hot.movies,
            hot.shape,
            hot.dtype,
        ),
        core.hot_need,
    )
