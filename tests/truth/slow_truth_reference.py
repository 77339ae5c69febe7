"""The neighbour truth's kernel as it was before the performance rework: the slow reference.

A verbatim copy of ``llmrec.truth._sparse`` and ``llmrec.truth._batch`` (scipy products, a
filtered ``watched`` rebuilt per batch, int32 data), with :func:`reference_examples` running it
batch by batch in one process. The tests compare today's ``NeighbourTruth`` with it, byte for
byte, on fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from llmrec.data.ratings import Ratings
from llmrec.errors import DataFormatError
from llmrec.truth.config import TruthConfig
from llmrec.truth.dataset import Example

STAR_SHIFT = 27  # stars live above bit 27 of the sort key; days below it
_DAY_LIMIT = 1 << STAR_SHIFT

IntArray = npt.NDArray[np.int32]


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
    watched_hot: sp.csr_array | None = None  # see the module docstring
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
        offset = raw if lo == 0 else np.subtract(raw, lo, dtype=np.int64)
        present = np.zeros(hi - lo + 1, dtype=np.bool_)
        present[offset] = True
        distinct = (np.flatnonzero(present) + lo).astype(np.int32)
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


def ones_like(matrix: sp.csr_array, keep: npt.NDArray[np.bool_] | None) -> sp.csr_array:
    """An int32 indicator with ``matrix``'s pattern, restricted to the entries in ``keep``."""
    if keep is None or bool(keep.all()):
        ones = np.ones(matrix.nnz, dtype=np.int32)
        return sp.csr_array((ones, matrix.indices, matrix.indptr), shape=matrix.shape, copy=False)
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int32), np.diff(matrix.indptr))
    counts = np.bincount(rows[keep], minlength=matrix.shape[0])
    indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int32)
    np.cumsum(counts, out=indptr[1:])
    indices = np.ascontiguousarray(matrix.indices[keep], dtype=np.int32)
    ones = np.ones(indices.size, dtype=np.int32)
    return sp.csr_array((ones, indices, indptr), shape=matrix.shape, copy=False)


def build_core(ratings: Ratings, config: TruthConfig) -> Core:
    """Renumber users and movies and build the three matrices for ``config``'s star filters."""
    stars = np.asarray(ratings.rating)
    if stars.size and (int(stars.min()) < 0 or int(stars.max()) > 15):
        raise DataFormatError(
            "ratings must be star counts between 0 and 15", text=str(int(stars.max()))
        )
    user_ids, rows = _dense_index(np.asarray(ratings.user_id))
    movie_ids, cols = _dense_index(np.asarray(ratings.movie_id))
    n_users, n_movies = user_ids.size, movie_ids.size
    key = _day_key(np.asarray(ratings.date))
    np.bitwise_or(key, np.left_shift(stars, STAR_SHIFT, dtype=np.int32), out=key)
    rated = sp.csr_array((key, (rows, cols)), shape=(n_users, n_movies))
    if rated.nnz != len(ratings):  # scipy summed duplicate (user, movie) pairs
        _raise_duplicate(rows, cols, user_ids, movie_ids)
    rated.indptr = rated.indptr.astype(np.int32, copy=False)
    rated.indices = rated.indices.astype(np.int32, copy=False)
    popularity = np.bincount(cols, minlength=n_movies).astype(np.int64)
    five_star = np.bincount(rows[stars == 5], minlength=n_users).astype(np.int64)
    del rows, cols, key
    entry_stars = rated.data >> STAR_SHIFT
    watched = ones_like(rated, entry_stars >= config.watched_min_rating)
    fans = ones_like(rated, entry_stars >= config.neighbour_min_rating).T.tocsr()
    fans.indptr = fans.indptr.astype(np.int32, copy=False)
    fans.indices = fans.indices.astype(np.int32, copy=False)
    watchers = np.bincount(watched.indices, minlength=n_movies).astype(np.int64)
    hot, hot_need = _hot(watched, watchers, config)
    return Core(
        user_ids, movie_ids, rated, watched, fans, popularity, five_star, watchers, hot, hot_need
    )


def without_rare_movies(core: Core, threshold: int) -> sp.csr_array:
    """``watched`` restricted to movies with at least ``threshold`` watchers (one pass)."""
    return ones_like(core.watched, core.watchers[core.watched.indices] >= threshold)


_HOT_MIN_SAVING = 0.05  # build watched_hot only when it drops at least this share of entries


def _hot(
    watched: sp.csr_array, watchers: npt.NDArray[np.int64], config: TruthConfig
) -> tuple[sp.csr_array | None, int]:
    if config.max_neighbours is None or watched.nnz == 0:
        return None, 0
    frac = config.watch_fraction()
    need = -(-frac.numerator * config.max_neighbours // frac.denominator)
    keep = watchers[watched.indices] >= need
    if keep.sum() > (1.0 - _HOT_MIN_SAVING) * watched.nnz:
        return None, 0
    return ones_like(watched, keep), need


STATUS_OK, STATUS_NO_NEIGHBOURS, STATUS_EMPTY_GOLD = 0, 1, 2

IntArray = npt.NDArray[np.int64]

try:  # the compiled kernel behind scipy's sparse @ (stable signature since scipy 0.7)
    from scipy.sparse._sparsetools import csr_matmat as _matmat
except ImportError:  # pragma: no cover - a scipy without it falls back to the public @
    _matmat = None


@dataclass(frozen=True)
class BatchResult:
    """Flat arrays for one batch; ``*_ptr`` are CSR-style offsets per target (raw ids)."""

    targets: npt.NDArray[np.int32]
    status: npt.NDArray[np.int8]
    n_neighbours: IntArray
    profile: npt.NDArray[np.int32]
    profile_ptr: IntArray
    gold: npt.NDArray[np.int32]
    gold_ptr: IntArray
    neighbours: npt.NDArray[np.int32] | None = None
    neighbours_ptr: IntArray | None = None


def _ptr(lengths: npt.NDArray[np.integer]) -> IntArray:
    out = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _gather_rows(
    matrix: sp.csr_array, rows: npt.NDArray[np.int64]
) -> tuple[IntArray, IntArray, IntArray]:
    """Segment id, column and position of every entry of ``matrix[rows]`` (ragged gather)."""
    starts = matrix.indptr[rows].astype(np.int64)
    lengths = matrix.indptr[rows + 1].astype(np.int64) - starts
    ptr = _ptr(lengths)
    seg = np.repeat(np.arange(rows.size, dtype=np.int64), lengths)
    pos = np.arange(int(ptr[-1]), dtype=np.int64) - ptr[seg] + starts[seg]
    return seg, matrix.indices[pos].astype(np.int64), pos


def _rank_in_segment(seg_sorted: IntArray, n_segments: int) -> IntArray:
    """Position of each entry within its segment, for entries sorted by segment."""
    ptr = _ptr(np.bincount(seg_sorted, minlength=n_segments))
    return np.arange(seg_sorted.size, dtype=np.int64) - ptr[seg_sorted]


def _profiles(
    core: Core, targets: IntArray, profile_size: int
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Profile (segment, movie) pairs in profile order, plus every rated (segment, movie)."""
    seg, movies, pos = _gather_rows(core.rated, targets)
    key = core.rated.data[pos]  # stars << 27 | day: descending key = stars, then date, desc
    order = np.lexsort((movies, -key.astype(np.int64), seg))
    seg_o, movies_o = seg[order], movies[order]
    top = _rank_in_segment(seg_o, targets.size) < profile_size
    return seg_o[top], movies_o[top], seg, movies


def _draw(candidates: IntArray, limit: int | None, seed: int, user_id: int) -> IntArray:
    """``limit`` of the (sorted) candidates drawn without replacement, seeded by the target."""
    if limit is None or candidates.size <= limit:
        return candidates
    rng = np.random.default_rng([seed, 1, user_id & 0xFFFFFFFF])
    pick = rng.choice(candidates.size, size=limit, replace=False, shuffle=False)
    pick.sort()
    return candidates[pick]


def _neighbours(
    core: Core, config: TruthConfig, targets: IntArray, p_seg: IntArray, p_movie: IntArray
) -> list[IntArray]:
    """Sorted dense indices of each target's (sampled) neighbours."""
    n = targets.size
    p_len = np.bincount(p_seg, minlength=n)
    profile = sp.csr_array(
        (np.ones(p_movie.size, np.int32), p_movie.astype(np.int32), _ptr(p_len).astype(np.int32)),
        shape=(n, core.n_movies),
    )
    fan_counts = np.diff(core.fans.indptr)
    bound = min(n * core.n_users, int(fan_counts[p_movie].sum()))
    overlap = _count_product(profile, core.fans, bound)
    mark = np.zeros(core.n_users, dtype=np.bool_)
    out: list[IntArray] = []
    for t in range(n):
        lo, hi = int(overlap.indptr[t]), int(overlap.indptr[t + 1])
        users = overlap.indices[lo:hi]
        need = config.overlap_for(int(p_len[t]))
        if need > 1:
            users = users[overlap.data[lo:hi] >= need]
        mark[users] = True
        mark[targets[t]] = False
        found = np.flatnonzero(mark)
        mark[found] = False
        uid = int(core.user_ids[targets[t]])
        out.append(_draw(found, config.max_neighbours, config.seed, uid))
    return out


def _count_product(left: sp.csr_array, right: sp.csr_array, max_nnz: int) -> sp.csr_array:
    """``left @ right`` for int32 CSR operands, skipping scipy's symbolic pass when possible.

    scipy's ``@`` runs the product twice: once to size the output, once to fill it. Here the
    output size is bounded beforehand (``max_nnz``: at most one entry per row and column, and
    at most one per multiplied pair), so the buffers are allocated at once and scipy's
    sparsetools kernel runs once. If that kernel is unavailable, the public ``@`` is used.
    The buffers are ``np.empty``: pages the kernel never writes are never touched, so a loose
    bound costs address space, not memory.
    """
    rows, cols = left.shape[0], right.shape[1]
    same = left.indptr.dtype == left.indices.dtype == right.indptr.dtype == np.int32
    if _matmat is None or not same or right.indices.dtype != np.int32 or max_nnz >= 2**31:
        return left @ right
    indptr = np.empty(rows + 1, dtype=np.int32)
    indices = np.empty(max_nnz, dtype=np.int32)
    data = np.empty(max_nnz, dtype=np.int32)
    _matmat(
        rows,
        cols,
        left.indptr,
        left.indices,
        left.data,
        right.indptr,
        right.indices,
        right.data,
        indptr,
        indices,
        data,
    )
    nnz = int(indptr[-1])
    return sp.csr_array((data[:nnz], indices[:nnz], indptr), shape=(rows, cols), copy=False)


def _hits(
    matrix: sp.csr_array,
    neighbours: list[IntArray],
    rows_used: npt.NDArray[np.bool_],
    need: IntArray,
    n_users: int,
) -> tuple[IntArray, IntArray, IntArray]:
    """(row, movie, count) of every count ``N @ matrix`` that reaches its row's need."""
    n = len(neighbours)
    parts = [a if used else a[:0] for a, used in zip(neighbours, rows_used.tolist(), strict=True)]
    sizes = np.array([a.size for a in parts], dtype=np.int64)
    flat = np.concatenate(parts) if n else np.zeros(0, np.int64)
    indicator = sp.csr_array(
        (np.ones(flat.size, np.int32), flat.astype(np.int32), _ptr(sizes).astype(np.int32)),
        shape=(n, n_users),
    )
    row_nnz = np.diff(matrix.indptr)
    bound = min(n * matrix.shape[1], int(row_nnz[flat].sum()) if flat.size else 0)
    counts = _count_product(indicator, matrix, bound)
    need_each = np.repeat(need.astype(counts.data.dtype), np.diff(counts.indptr))
    hit = np.flatnonzero(counts.data >= need_each)
    rows = np.searchsorted(counts.indptr, hit, side="right").astype(np.int64) - 1
    return rows, counts.indices[hit].astype(np.int64), counts.data[hit].astype(np.int64)


def _watched_for(core: Core, threshold: int, items: int) -> sp.csr_array:
    """The ``watched`` matrix to count with when every count below ``threshold`` is useless.

    The shared ``watched_hot`` when it fits; else a copy without the movies watched by fewer
    than ``threshold`` users, when the entries that saves in the product (``items`` times the
    dropped share) outweigh one pass over ``watched`` to build it; else ``watched`` itself.
    """
    if core.watched_hot is not None and threshold >= core.hot_need:
        return core.watched_hot
    total = core.watched.nnz
    dropped = int(core.watchers[core.watchers < threshold].sum())
    if dropped and total and items * dropped > total * total:
        return without_rare_movies(core, threshold)
    return core.watched


def _gold(
    core: Core,
    config: TruthConfig,
    neighbours: list[IntArray],
    excluded: tuple[IntArray, IntArray],
) -> tuple[IntArray, IntArray]:
    """Gold (segment, dense movie) pairs in gold order."""
    n = len(neighbours)
    sizes = np.array([a.size for a in neighbours], dtype=np.int64)
    frac = config.watch_fraction()
    # smallest count that reaches the factor: ceil(num * size / den), in exact integers; a
    # target without neighbours needs more than any count
    need = np.array(
        [-(-frac.numerator * int(s) // frac.denominator) if s else 2**31 - 1 for s in sizes],
        dtype=np.int64,
    )
    # targets grouped by the power of two below their need; each group reads only the movies
    # watched often enough to reach the smallest need in it
    level = np.where(sizes > 0, np.floor(np.log2(np.maximum(need, 1))), -1).astype(np.int64)
    row_nnz = np.diff(core.watched.indptr)
    items = np.array([int(row_nnz[a].sum()) for a in neighbours], dtype=np.int64)
    found = []
    for lv in np.unique(level[level >= 0]).tolist():
        use = level == lv
        matrix = _watched_for(core, int(need[use].min()), int(items[use].sum()))
        found.append(_hits(matrix, neighbours, use, need, core.n_users))
    if found:
        rows, cols, value = (np.concatenate(parts) for parts in zip(*found, strict=True))
    else:
        rows = cols = value = np.zeros(0, np.int64)
    blocked = np.zeros((n, core.n_movies), dtype=np.bool_)
    blocked[excluded[0], excluded[1]] = True
    keep = ~blocked[rows, cols]
    rows, cols, value = rows[keep], cols[keep], value[keep]
    order = np.lexsort((cols, -core.popularity[cols], -value, rows))
    rows, cols = rows[order], cols[order]
    top = _rank_in_segment(rows, n) < config.max_gold
    return rows[top], cols[top]


def run_batch(
    core: Core, config: TruthConfig, targets: npt.NDArray[np.int64], with_neighbours: bool = False
) -> BatchResult:
    """Profiles, neighbour counts and gold lists for ``targets`` (dense user indices)."""
    targets = np.asarray(targets, dtype=np.int64)
    n = targets.size
    p_seg, p_movie, h_seg, h_movie = _profiles(core, targets, config.profile_size)
    neighbours = _neighbours(core, config, targets, p_seg, p_movie)
    excluded = (p_seg, p_movie) if config.exclude == "profile" else (h_seg, h_movie)
    g_seg, g_movie = _gold(core, config, neighbours, excluded)
    sizes = np.array([a.size for a in neighbours], dtype=np.int64)
    gold_len = np.bincount(g_seg, minlength=n)
    status = np.full(n, STATUS_OK, dtype=np.int8)
    status[gold_len == 0] = STATUS_EMPTY_GOLD
    status[sizes == 0] = STATUS_NO_NEIGHBOURS
    flat = np.concatenate(neighbours) if with_neighbours and n else np.zeros(0, np.int64)
    return BatchResult(
        targets=core.user_ids[targets],
        status=status,
        n_neighbours=sizes,
        profile=core.movie_ids[p_movie],
        profile_ptr=_ptr(np.bincount(p_seg, minlength=n)),
        gold=core.movie_ids[g_movie],
        gold_ptr=_ptr(gold_len),
        neighbours=core.user_ids[flat] if with_neighbours else None,
        neighbours_ptr=_ptr(sizes) if with_neighbours else None,
    )


def reference_examples(
    ratings: Ratings,
    config: TruthConfig,
    targets: npt.NDArray[np.int64] | None = None,
    batch_size: int = 64,
) -> tuple[list[Example], dict[str, int]]:
    """Examples (user-id order) and left-out counts, as the old ``NeighbourTruth.build``."""
    core = build_core(ratings, config)
    if targets is None:
        targets = np.flatnonzero(core.five_star >= config.min_five_star).astype(np.int64)
        n = config.n_users
        if n is not None and n < targets.size:
            rng = np.random.default_rng([config.seed, 0])
            targets = np.sort(targets[rng.choice(targets.size, size=n, replace=False)])
    examples: list[Example] = []
    left = {"no_neighbours": 0, "empty_gold": 0}
    for i in range(0, targets.size, batch_size):
        res = run_batch(core, config, targets[i : i + batch_size])
        left["no_neighbours"] += int(np.sum(res.status == STATUS_NO_NEIGHBOURS))
        left["empty_gold"] += int(np.sum(res.status == STATUS_EMPTY_GOLD))
        pp, gp = res.profile_ptr.tolist(), res.gold_ptr.tolist()
        for j, (uid, status, nn) in enumerate(
            zip(res.targets.tolist(), res.status.tolist(), res.n_neighbours.tolist(), strict=True)
        ):
            if status == 0:
                examples.append(
                    Example(
                        user_id=int(uid),
                        profile=tuple(int(m) for m in res.profile[pp[j] : pp[j + 1]]),
                        gold=tuple(int(m) for m in res.gold[gp[j] : gp[j + 1]]),
                        n_neighbours=int(nn),
                    )
                )
    return examples, left
