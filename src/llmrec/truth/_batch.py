"""The kernel: profiles, neighbours, watch counts and gold lists for one batch of targets.

For a batch of targets (dense user indices) it computes, with no Python loop over ratings:

1. profiles: the targets' rows of ``rated`` gathered at once and ordered by one ``lexsort``
   (target, stars high first, date recent first, movie id low first); the first
   ``profile_size`` of each target;
2. overlaps ``O = P @ fans`` (targets x users), ``P`` the profile indicator: ``O[t, u]`` is the
   number of profile movies ``u`` rated with at least ``neighbour_min_rating`` stars; the
   neighbours of ``t`` are the users with ``O[t, u] >= min_overlap``, minus ``t`` itself;
3. at most ``max_neighbours`` of them, drawn without replacement by a generator seeded with
   ``(seed, 1, user id)``, so the draw does not depend on the batch a target falls in;
4. counts ``C = N @ watched`` (targets x movies), ``N`` the sampled neighbour indicator; a
   movie watched by fewer users than a target needs can never qualify, so targets whose need
   reaches the core's ``watched_hot`` multiply with that matrix, which leaves such movies out
   (see :func:`_watched_for`); on Netflix-like data that skips a third of the work;
5. gold: entries with ``C[t, m] * den >= num * |N_t|`` (the watch factor as an exact fraction
   ``num/den``), minus the excluded movies, ordered by count (= share), the movie's number of
   ratings, then movie id; the first ``max_gold``.

The only per-target Python step is the seeded draw (step 3), which is O(candidates) numpy work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from llmrec.truth._sparse import Core, HotMatrix
from llmrec.truth.config import TruthConfig

__all__ = ["STATUS_EMPTY_GOLD", "STATUS_NO_NEIGHBOURS", "STATUS_OK", "BatchResult", "run_batch"]

STATUS_OK, STATUS_NO_NEIGHBOURS, STATUS_EMPTY_GOLD = 0, 1, 2

IntArray = npt.NDArray[np.int64]

_COCOUNT: Any  # the co-count kernel built from _cocount.c (optional: scipy's product otherwise)
try:
    from llmrec.truth import _cocount

    # an extension built from an older _cocount.c (before a reinstall) is not used
    _COCOUNT = _cocount if getattr(_cocount, "VERSION", 1) >= 2 else None
except ImportError:  # pragma: no cover - installed without a C compiler
    _COCOUNT = None

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
    if _COCOUNT is not None and core.fans.indices.dtype == core.fans.indptr.dtype == np.int32:
        return _native_neighbours(core, config, targets, p_movie, p_len)
    profile = sp.csr_array(
        (
            np.ones(p_movie.size, core.fans.data.dtype),
            p_movie.astype(np.int32),
            _ptr(p_len).astype(np.int32),
        ),
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


def _native_neighbours(
    core: Core, config: TruthConfig, targets: IntArray, p_movie: IntArray, p_len: IntArray
) -> list[IntArray]:
    """What :func:`_neighbours` returns, the candidates listed by the compiled kernel
    (``_cocount.candidates``: a bitmap of users per target, no product and no full scan)."""
    fans = core.fans
    p_ptr = _ptr(p_len).tolist()
    movies = p_movie.astype(np.int32)
    room = np.empty(max(1, core.n_users), dtype=np.int32)  # candidates of one target
    ptr = np.zeros(2, dtype=np.int64)
    out: list[IntArray] = []
    for t in range(targets.size):
        lo, hi = p_ptr[t], p_ptr[t + 1]
        written = _COCOUNT.candidates(
            fans.indptr,
            fans.indices,
            core.n_users,
            movies[lo:hi],
            np.array([0, hi - lo], dtype=np.int64),
            np.array([config.overlap_for(hi - lo)], dtype=np.int64),
            targets[t : t + 1],
            room,
            ptr,
        )
        found = room[:written].astype(np.int64)
        uid = int(core.user_ids[targets[t]])
        out.append(_draw(found, config.max_neighbours, config.seed, uid))
    return out


def _count_product(left: sp.csr_array, right: sp.csr_array, max_nnz: int) -> sp.csr_array:
    """``left @ right`` for CSR operands with int32 indices and data of one integer type,
    skipping scipy's symbolic pass when possible.

    scipy's ``@`` runs the product twice: once to size the output, once to fill it. Here the
    output size is bounded beforehand (``max_nnz``: at most one entry per row and column, and
    at most one per multiplied pair), so the buffers are allocated at once and scipy's
    sparsetools kernel runs once. If that kernel is unavailable, the public ``@`` is used.
    The buffers are ``np.empty``: pages the kernel never writes are never touched, so a loose
    bound costs address space, not memory.
    """
    rows, cols = left.shape[0], right.shape[1]
    same = left.indptr.dtype == left.indices.dtype == right.indptr.dtype == np.int32
    same = same and right.indices.dtype == np.int32 and left.data.dtype == right.data.dtype
    if _matmat is None or not same or max_nnz >= 2**31:
        return left @ right
    indptr = np.empty(rows + 1, dtype=np.int32)
    indices = np.empty(max_nnz, dtype=np.int32)
    data = np.empty(max_nnz, dtype=left.data.dtype)
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
        (
            np.ones(flat.size, matrix.data.dtype),
            flat.astype(np.int32),
            _ptr(sizes).astype(np.int32),
        ),
        shape=(n, n_users),
    )
    row_nnz = np.diff(matrix.indptr)
    bound = min(n * matrix.shape[1], int(row_nnz[flat].sum()) if flat.size else 0)
    counts = _count_product(indicator, matrix, bound)
    need_each = np.repeat(need, np.diff(counts.indptr))  # int64: no count type overflows
    hit = np.flatnonzero(counts.data >= need_each)
    rows = np.searchsorted(counts.indptr, hit, side="right").astype(np.int64) - 1
    return rows, counts.indices[hit].astype(np.int64), counts.data[hit].astype(np.int64)


def _native_hits(
    matrix: sp.csr_array | HotMatrix,
    neighbours: list[IntArray],
    rows_used: npt.NDArray[np.bool_],
    need: IntArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """What :func:`_hits` returns, from the compiled kernel (``_cocount.c``): a dense count
    per column for one target at a time, columns recorded as they reach the need. A
    :class:`HotMatrix` is read with its 2-byte renumbered columns, mapped back to movies."""
    parts = [a if used else a[:0] for a, used in zip(neighbours, rows_used.tolist(), strict=True)]
    sizes = np.array([a.size for a in parts], dtype=np.int64)
    flat = np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)
    if isinstance(matrix, HotMatrix):
        indices, n_cols, columns = matrix.indices, int(matrix.movies.size), matrix.movies
    else:
        indices = np.ascontiguousarray(matrix.indices, dtype=np.int32)
        n_cols, columns = int(matrix.shape[1]), None
    cap = max(1, int(np.count_nonzero(sizes)) * n_cols)
    rows, cols, value = (np.empty(cap, dtype=np.int32) for _ in range(3))
    written = _COCOUNT.hits(
        np.ascontiguousarray(matrix.indptr, dtype=np.int32),
        indices,
        n_cols,
        flat,
        _ptr(sizes),
        np.ascontiguousarray(need, dtype=np.int64),
        rows,
        cols,
        value,
    )
    found = cols[:written]
    return (
        rows[:written].astype(np.int64),
        (found if columns is None else columns[found]).astype(np.int64),
        value[:written].astype(np.int64),
    )


def _watched_for(core: Core, threshold: int) -> sp.csr_array | HotMatrix:
    """The ``watched`` matrix to count with when every count below ``threshold`` is useless:
    the shared ``watched_hot`` when it fits, else ``watched`` itself.

    Both are built once with the core; a matrix filtered per batch (one pass over all 100M
    entries of Netflix for every batch) cost more than the entries it saved.
    """
    if core.watched_hot is not None and threshold >= core.hot_need:
        return core.watched_hot
    return core.watched


def _gold(
    core: Core,
    config: TruthConfig,
    neighbours: list[IntArray],
    excluded: tuple[IntArray, IntArray],
    device: str | None = None,
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
    # targets grouped by the matrix they count with: those whose need reaches the shared
    # ``watched_hot`` read only the movies watched often enough, the others read ``watched``
    hot = core.hot_need if core.watched_hot is not None else 2**62
    level = np.where(sizes > 0, (need >= hot).astype(np.int64), -1)
    found = []
    for lv in np.unique(level[level >= 0]).tolist():
        use = level == lv
        matrix = _watched_for(core, int(need[use].min()))
        if device is None and _COCOUNT is not None:
            found.append(_native_hits(matrix, neighbours, use, need))
            continue
        full = matrix.to_csr() if isinstance(matrix, HotMatrix) else matrix
        if device is None:
            found.append(_hits(full, neighbours, use, need, core.n_users))
        else:  # the same hits, counted on a torch device (see llmrec.truth._device)
            from llmrec.truth._device import device_hits

            found.append(device_hits(full, neighbours, use, need, device))
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
    core: Core,
    config: TruthConfig,
    targets: npt.NDArray[np.int64],
    with_neighbours: bool = False,
    device: str | None = None,
) -> BatchResult:
    """Profiles, neighbour counts and gold lists for ``targets`` (dense user indices); the
    co-count on a torch ``device`` when given (else scipy on the CPU)."""
    targets = np.asarray(targets, dtype=np.int64)
    n = targets.size
    p_seg, p_movie, h_seg, h_movie = _profiles(core, targets, config.profile_size)
    neighbours = _neighbours(core, config, targets, p_seg, p_movie)
    excluded = (p_seg, p_movie) if config.exclude == "profile" else (h_seg, h_movie)
    g_seg, g_movie = _gold(core, config, neighbours, excluded, device)
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
