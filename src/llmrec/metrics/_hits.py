"""The hit matrix: the one intermediate every batch metric kernel reads.

For ``n`` users and a cutoff ``K`` it holds ``hits`` (an ``n × K`` boolean matrix, ``True`` where
the item at that rank is relevant and is its first occurrence in the list) and ``n_relevant``
(the number of distinct relevant ids per user). Every ranking metric here is a function of these
two arrays, so the lists are matched against the relevant sets once per evaluation.

Inputs come in two shapes:

* **padded integer arrays**: ``ranked`` of shape ``(n, L)`` and ``relevant`` of shape
  ``(n, R)``, with ``-1`` (any negative value) as padding. Padding holds its slot and is never a
  hit. This is the fast path: fully vectorised, no Python loop over users.
* **ragged lists**: a sequence of ``n`` ranked sequences and ``n`` relevant collections of any
  hashable ids. They are read once into one flat integer array (in C, through ``array.array``,
  when every id is an integer; otherwise through one shared dict of codes) and then take the
  padded path. A million users × 10 ids cost about 0.2 s of reading.
"""

from __future__ import annotations

import array
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, count
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError

__all__ = [
    "PAD",
    "BatchInput",
    "HitMatrix",
    "build_hit_matrix",
    "count_duplicates",
    "to_padded",
]

PAD = -1
"""Padding value of padded integer arrays (every negative value is treated as padding)."""

BatchInput: TypeAlias = Sequence[Sequence[Hashable]] | Sequence[Iterable[Hashable]] | Any

IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

# Rows per block of the column-wise kernels: each column of a block (int64) fits in L2 cache.
_BLOCK_ROWS = 1 << 15
# Up to this many columns, membership and repeats use pairwise column comparisons; above, sorting.
_BROADCAST_MAX_R = 32


@dataclass(frozen=True)
class HitMatrix:
    """First-occurrence hits of the top ``width`` ranks, and the number of relevant ids per user.

    ``hits[u, j]`` is ``True`` when the item at rank ``j + 1`` of user ``u`` is relevant and did
    not occur at an earlier rank. ``n_relevant[u]`` counts distinct relevant ids (padding
    excluded). ``width`` may exceed the longest list: missing ranks are never hits.
    """

    hits: BoolArray
    n_relevant: IntArray

    @property
    def n_users(self) -> int:
        return int(self.hits.shape[0])

    @property
    def width(self) -> int:
        return int(self.hits.shape[1])

    def top(self, k: int | None) -> BoolArray:
        """The first ``min(k, width)`` columns (all when ``k`` is ``None``)."""
        return self.hits if k is None else self.hits[:, :k]


def _as_2d_int(name: str, values: npt.NDArray[Any]) -> IntArray:
    if values.ndim != 2:
        raise ConfigError(
            f"{name} as an array must be 2-D (users × ranks) with -1 padding "
            f"(got shape {values.shape})"
        )
    if values.dtype.kind not in "iu":
        raise ConfigError(f"{name} as an array must hold integer ids (got dtype {values.dtype})")
    if values.dtype == np.uint64 and values.size and int(values.max()) > np.iinfo(np.int64).max:
        raise ConfigError(f"{name} holds ids above 2**63 - 1 (got {int(values.max())})")
    return values.astype(np.int64, copy=False)


def _rows(lists: Sequence[Any], name: str) -> tuple[Sequence[Any], IntArray]:
    """Rows as sized collections of ids (numpy integer rows drop their padding), and lengths.

    Rows that are lists, tuples, sets or frozensets are used as given (no per-row Python step);
    anything else is converted row by row with a check.
    """
    if set(map(type, lists)) <= {list, tuple, set, frozenset}:  # common case: no per-row step
        return lists, np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    rows: list[Any] = []
    for i, row in enumerate(lists):
        if isinstance(row, str | bytes):
            raise ConfigError(f"{name}[{i}] is a string; expected a sequence of item ids")
        if isinstance(row, np.ndarray):
            if row.ndim != 1:
                raise ConfigError(f"{name}[{i}] must be 1-D (got shape {row.shape})")
            row = row[row >= 0].tolist() if row.dtype.kind in "iu" else row.tolist()
        elif not isinstance(row, list | tuple):
            try:
                row = list(row)
            except TypeError:
                raise ConfigError(
                    f"{name}[{i}] is {row!r}, not a sequence of item ids; pass one list per user"
                ) from None
        rows.append(row)
    return rows, np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))


def _int_ids(rows: Sequence[Any], total: int) -> IntArray | None:
    """All ids of ``rows``, concatenated, as int64 when every id is an integer, else ``None``.

    ``array.array`` reads the ids in C and accepts only integers (``int``, ``bool`` and objects
    with ``__index__`` such as numpy integer scalars, all equal to their integer value); a float,
    a string or any other object raises ``TypeError`` and an out-of-range value
    ``OverflowError``. Typecode ``"Q"`` is the fast one (no argument parsing for ``int``);
    negative ids fall back to ``"q"``. Ids of 2**63 or more give ``None``.
    """
    flat = chain.from_iterable(rows)
    try:
        buf = array.array("Q", flat)
    except TypeError:
        return None
    except OverflowError:
        try:
            buf = array.array("q", chain.from_iterable(rows))
        except (TypeError, OverflowError):
            return None
    if len(buf) != total:  # a row's len() disagreed with its iteration
        return None
    if buf.typecode == "Q":
        unsigned = np.frombuffer(buf, dtype=np.uint64)
        if unsigned.size and int(unsigned.max()) > np.iinfo(np.int64).max:
            return None
        return unsigned.view(np.int64)
    return np.frombuffer(buf, dtype=np.int64)


def _non_negative(a: IntArray, b: IntArray) -> tuple[IntArray, IntArray]:
    """Shift two integer id arrays by one offset so that every id is ``>= 0`` (equality kept)."""
    if not a.size and not b.size:
        return a, b
    low = min(int(x.min()) for x in (a, b) if x.size)
    if low >= 0:
        return a, b
    high = max(int(x.max()) for x in (a, b) if x.size)
    if high - low <= np.iinfo(np.int64).max:
        # two's complement wrap-around makes the int64 subtraction exact for this range
        return a - np.int64(low), b - np.int64(low)
    codes = np.unique(np.concatenate([a, b]), return_inverse=True)[1].astype(np.int64)
    return codes[: a.size], codes[a.size :]


def _code_objects(
    rows_a: Sequence[Any], rows_b: Sequence[Any], n_a: int, n_b: int
) -> tuple[IntArray, IntArray]:
    """Code arbitrary hashable ids to integers with one shared dict (equal ids, equal codes).

    A ``defaultdict`` whose factory is a counter hands a new id the next code on its first
    look-up, so coding is one pass in C over the ids.
    """
    codes: defaultdict[Hashable, int] = defaultdict(count().__next__)
    look = codes.__getitem__
    try:
        return (
            np.fromiter(map(look, chain.from_iterable(rows_a)), dtype=np.int64, count=n_a),
            np.fromiter(map(look, chain.from_iterable(rows_b)), dtype=np.int64, count=n_b),
        )
    except TypeError as exc:
        raise ConfigError(f"item ids must be hashable ({exc})") from None


def _code(
    rows_a: Sequence[Any], len_a: IntArray, rows_b: Sequence[Any], len_b: IntArray
) -> tuple[IntArray, IntArray]:
    """Concatenated ids of both row sets as non-negative int64 codes shared by the two."""
    n_a, n_b = int(len_a.sum()), int(len_b.sum())
    ids_a = _int_ids(rows_a, n_a)
    ids_b = _int_ids(rows_b, n_b) if ids_a is not None else None
    if ids_a is not None and ids_b is not None:
        return _non_negative(ids_a, ids_b)
    return _code_objects(rows_a, rows_b, n_a, n_b)


def _pad(codes: IntArray, lengths: IntArray) -> IntArray:
    """Turn concatenated rows (``codes`` with row ``lengths``) into a ``-1``-padded matrix."""
    n = lengths.size
    w = int(lengths.max()) if n else 0
    if codes.size == n * w:  # every row is full: no padding at all
        return codes.reshape(n, w)
    out = np.full((n, w), PAD, dtype=np.int64)
    # row-major boolean assignment fills each row's leading slots in order
    out[np.arange(w) < lengths[:, None]] = codes
    return out


def to_padded(ranked: BatchInput, relevant: BatchInput) -> tuple[IntArray, IntArray]:
    """Both inputs as ``-1``-padded int64 matrices with one shared id coding.

    Arrays pass through unchanged (they are already integer ids); ragged lists are coded
    together, so an id means the same item in ``ranked`` and ``relevant``. Integer ids keep
    their value (shifted by one offset when some are negative); other ids get dict codes.
    """
    if isinstance(ranked, np.ndarray) and isinstance(relevant, np.ndarray):
        r = _as_2d_int("ranked", ranked)
        t = _as_2d_int("relevant", relevant)
    else:
        if isinstance(ranked, np.ndarray) and ranked.ndim == 2:
            ranked = list(ranked)
        if isinstance(relevant, np.ndarray) and relevant.ndim == 2:
            relevant = list(relevant)
        rows_r, len_r = _rows(ranked, "ranked")
        rows_t, len_t = _rows(relevant, "relevant")
        codes_r, codes_t = _code(rows_r, len_r, rows_t, len_t)
        r = _pad(codes_r, len_r)
        t = _pad(codes_t, len_t)
    if r.shape[0] != t.shape[0]:
        raise ConfigError(
            f"ranked and relevant must describe the same users "
            f"(got {r.shape[0]} ranked lists and {t.shape[0]} relevant sets)"
        )
    return r, t


def _row_blocks(n: int) -> Iterable[slice]:
    for start in range(0, n, _BLOCK_ROWS):
        yield slice(start, min(n, start + _BLOCK_ROWS))


def _first_occurrence(top: IntArray) -> BoolArray:
    """``True`` where an entry is not padding and does not repeat an earlier entry of its row.

    Narrow matrices compare column pairs on a transposed, cache-sized block of rows (``w²/2``
    vectorised comparisons); wide ones use a stable sort per row.
    """
    n, w = top.shape
    if w <= _BROADCAST_MAX_R:
        out = np.empty((n, w), dtype=np.bool_)
        for s in _row_blocks(n):
            cols = np.ascontiguousarray(top[s].T)
            first = cols >= 0
            buf = np.empty(cols.shape[1], dtype=np.bool_)
            for j in range(1, w):
                for i in range(j):
                    np.equal(cols[i], cols[j], out=buf)
                    first[j] &= ~buf
            out[s] = first.T
        return out
    order = np.argsort(top, axis=1, kind="stable")
    srt = np.take_along_axis(top, order, axis=1)
    repeat_sorted = np.zeros_like(srt, dtype=np.bool_)
    repeat_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
    repeat = np.zeros_like(repeat_sorted)
    np.put_along_axis(repeat, order, repeat_sorted, axis=1)
    return (top >= 0) & ~repeat


def _membership(top: IntArray, relevant: IntArray) -> BoolArray:
    """``True`` where ``top[u, j]`` occurs (as a non-padding id) in row ``u`` of ``relevant``.

    Up to ``_BROADCAST_MAX_R`` relevant columns: ``w × R`` vectorised comparisons on transposed
    blocks. Wider: each row is offset into its own id range, so that one global binary search
    over the row-sorted relevant ids serves every row.
    """
    n, w = top.shape
    r = relevant.shape[1]
    if r == 0 or w == 0 or n == 0:
        return np.zeros((n, w), dtype=np.bool_)
    if r <= _BROADCAST_MAX_R:
        out = np.empty((n, w), dtype=np.bool_)
        for s in _row_blocks(n):
            cols = np.ascontiguousarray(top[s].T)
            rels = np.ascontiguousarray(relevant[s].T)
            found = np.zeros(cols.shape, dtype=np.bool_)
            buf = np.empty(cols.shape[1], dtype=np.bool_)
            for j in range(w):
                for q in range(r):
                    np.equal(cols[j], rels[q], out=buf)
                    found[j] |= buf
            found &= cols >= 0
            out[s] = found.T
        return out
    srt = np.sort(relevant, axis=1)
    span = int(max(int(top.max()), int(srt.max()))) + 2
    if span * n >= np.iinfo(np.int64).max // 2:
        # ids too large to offset: compare each rank against the sorted row by bisection
        return _membership_bisect(top, srt)
    offset = (np.arange(n, dtype=np.int64) * span)[:, None]
    keys = (srt + 1 + offset).ravel()
    probe = (top + 1 + offset).ravel()
    pos = np.searchsorted(keys, probe).clip(max=keys.size - 1)
    matched: BoolArray = (keys[pos] == probe).reshape(n, w)
    return matched & (top >= 0)


def _membership_bisect(top: IntArray, srt: IntArray) -> BoolArray:
    """Row-wise binary search of every rank in the ascending rows of ``srt``."""
    n, w = top.shape
    r = srt.shape[1]
    lo = np.zeros((n, w), dtype=np.int64)
    hi = np.full((n, w), r, dtype=np.int64)
    rows = np.arange(n)[:, None]
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        below = srt[rows, np.minimum(mid, r - 1)] < top
        lo = np.where(active & below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)
    found: BoolArray = np.asarray(srt[rows, np.minimum(lo, r - 1)] == top, dtype=np.bool_)
    valid: BoolArray = (lo < r) & (top >= 0)
    return found & valid


def build_hit_matrix(ranked: BatchInput, relevant: BatchInput, width: int | None) -> HitMatrix:
    """Match every user's top ``width`` ranks (all ranks when ``None``) against their relevant ids.

    ``ranked`` and ``relevant`` are either padded integer arrays or ragged sequences (see the
    module docstring). The result has exactly ``width`` columns when ``width`` is given.
    """
    r, t = to_padded(ranked, relevant)
    if width is None:
        width = r.shape[1]
    top = r[:, :width]
    if top.shape[1] < width:
        top = np.concatenate(
            [top, np.full((top.shape[0], width - top.shape[1]), PAD, dtype=np.int64)], axis=1
        )
    n_relevant = _first_occurrence(t).sum(axis=1).astype(np.int64)
    hits = _membership(top, t) & _first_occurrence(top)
    return HitMatrix(hits=hits, n_relevant=n_relevant)


def count_duplicates(ranked: IntArray) -> tuple[IntArray, IntArray]:
    """Per row of a padded matrix: entries repeating an earlier entry, and non-padding entries."""
    valid = ranked >= 0
    first = _first_occurrence(ranked)
    return (valid & ~first).sum(axis=1).astype(np.int64), valid.sum(axis=1).astype(np.int64)
