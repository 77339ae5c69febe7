"""The numpy kernel for the Netflix Prize line format, and the constants every kernel shares.

This is the fallback when the C extension (``_netflix_parse``, built from ``_netflix_parse.c``)
is not built, and the cross-check for it in the tests. It follows the grammar documented in
:mod:`llmrec.data._parse` byte for byte and offers the same two functions as the C kernel:
``count(data, kind, keep, exact) -> (records, newlines)`` (an upper bound on the records, exact
for well-formed input) and ``parse(data, kind, keep, user, movie, rating, date) -> (written,
code, line, offset)``, which fills caller-allocated arrays and stops at the first bad line.

Lines are processed in batches of :data:`_BATCH_LINES`; within a batch every step (finding the
lines, reading ids and dates, carrying the movie header forward) is a vectorised numpy pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CAPACITY",
    "KIND_PROBE",
    "KIND_QUALIFYING",
    "KIND_RATINGS",
    "MALFORMED",
    "NO_HEADER",
    "OK",
    "numpy_checksum",
    "numpy_count",
    "numpy_parse",
]

# Record kinds and result codes: the same numbers as in the C kernel.
KIND_RATINGS = 0
KIND_PROBE = 1
KIND_QUALIFYING = 2
_KIND_NAMES = {KIND_RATINGS: "ratings", KIND_PROBE: "probe", KIND_QUALIFYING: "qualifying"}

OK = 0
MALFORMED = 1
NO_HEADER = 2
CAPACITY = 3

_MAX_ID = 2_147_483_647
_BATCH_LINES = 1 << 20

Int32Array = npt.NDArray[np.int32]
Int8Array = npt.NDArray[np.int8]
Int64Array = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]


def _gather(buf: UInt8Array, pos: Int64Array, width: int) -> UInt8Array:
    """Bytes ``buf[pos + j]`` for ``j < width`` as an (n, width) matrix; past the end reads 0.

    Rows are copied from a sliding-window view (one index per row, no index matrix); only the
    few rows that start within ``width`` bytes of the end are filled one by one.
    """
    out = np.zeros((pos.size, width), dtype=np.uint8)
    if buf.size >= width:
        inside = pos <= buf.size - width
        windows = np.lib.stride_tricks.sliding_window_view(buf, width)
        if inside.all():
            return windows[pos]
        out[inside] = windows[pos[inside]]
        tail = np.flatnonzero(~inside)
    else:
        tail = np.arange(pos.size)
    for i in tail.tolist():
        piece = buf[int(pos[i]) : int(pos[i]) + width]
        out[i, : piece.size] = piece
    return out


# 10 ** (nd - 1 - j) for digit j of an nd-digit number, 0 past the last digit.
_PLACE = np.array(
    [[10 ** (nd - 1 - j) if j < nd else 0 for j in range(10)] for nd in range(12)], dtype=np.int64
)


def _leading_id(
    buf: UInt8Array, starts: Int64Array, length: Int64Array
) -> tuple[Int64Array, Int64Array, npt.NDArray[np.bool_]]:
    """Leading digits of each line: (digit count capped at 11, value, whether a valid id)."""
    digits = _gather(buf, starts, 11) - np.uint8(48)  # non-digits wrap to values >= 10
    isd = (digits < 10) & (np.arange(11)[None, :] < length[:, None])
    nd = np.where(isd.all(axis=1), 11, isd.argmin(axis=1)).astype(np.int64)
    value = np.einsum("ij,ij->i", digits[:, :10].astype(np.int64), _PLACE[nd])
    ok = (nd >= 1) & (nd <= 10) & (value >= 1) & (value <= _MAX_ID)
    return nd, value, ok


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _days_from_civil(y: Int64Array, m: Int64Array, d: Int64Array) -> Int64Array:
    """Days since 1970-01-01 of proleptic-Gregorian dates (H. Hinnant's days_from_civil)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days: Int64Array = era * 146097 + doe - 719468
    return days


def _dates(buf: UInt8Array, pos: Int64Array) -> tuple[npt.NDArray[np.bool_], Int64Array]:
    """Validate ``YYYY-MM-DD`` at each position; return (valid, days since 1970-01-01)."""
    g = _gather(buf, pos, 10)
    d = g - np.uint8(48)
    ok = np.all(d[:, [0, 1, 2, 3, 5, 6, 8, 9]] < 10, axis=1) & (g[:, 4] == 45) & (g[:, 7] == 45)
    d64 = d.astype(np.int64)
    year = d64[:, 0] * 1000 + d64[:, 1] * 100 + d64[:, 2] * 10 + d64[:, 3]
    month = d64[:, 5] * 10 + d64[:, 6]
    day = d64[:, 8] * 10 + d64[:, 9]
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    ok &= day <= _MONTH_DAYS[np.clip(month - 1, 0, 11)] + ((month == 2) & leap)
    return ok, _days_from_civil(year, month, day)


def _line_bounds(buf: UInt8Array) -> tuple[Int64Array, Int64Array, int]:
    """Start and end (before ``\\n``) of every line, and the number of ``\\n`` bytes."""
    nl = np.flatnonzero(buf == 10).astype(np.int64)
    starts = np.concatenate([np.zeros(1, np.int64), nl + 1])
    ends = np.concatenate([nl, np.array([buf.size], np.int64)])
    if starts[-1] == buf.size:  # the data ends with "\n" (or is empty): no last partial line
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends, int(nl.size)


def _kept(movie: Int64Array, keep: UInt8Array | None) -> npt.NDArray[np.bool_]:
    if keep is None:
        return np.ones(movie.shape, dtype=bool)
    inside = (movie >= 0) & (movie < keep.size)
    kept: npt.NDArray[np.bool_] = inside & (keep[np.where(inside, movie, 0)] != 0)
    return kept


def _as_keep(keep: Any) -> UInt8Array | None:
    return None if keep is None else np.frombuffer(keep, dtype=np.uint8)


def numpy_count(data: Any, kind: int, keep: Any, exact: bool) -> tuple[int, int]:
    """The numpy twin of the C ``count``: (records for well-formed input, ``\\n`` bytes).

    Without ``exact`` or ``keep`` it is lines minus ``:`` bytes (each header has one ``:``);
    malformed input can make that fall short, and ``parse`` then stops with ``CAPACITY``.
    """
    _check_kind(kind)
    buf = np.frombuffer(data, dtype=np.uint8)
    keep_arr = _as_keep(keep)
    if not exact and keep_arr is None:
        newlines = int(np.count_nonzero(buf == 10))
        lines = newlines + int(buf.size > 0 and buf[-1] != 10)
        return max(lines - int(np.count_nonzero(buf == 58)), 0), newlines
    starts, ends, newlines = _line_bounds(buf)
    total = 0
    current = -1  # the movie of the last header seen (-1: none yet)
    for lo in range(0, starts.size, _BATCH_LINES):
        s, e = starts[lo : lo + _BATCH_LINES], ends[lo : lo + _BATCH_LINES]
        nd, value, _ = _leading_id(buf, s, e - s)
        colon = _gather(buf, s + np.minimum(nd, 10), 1)[:, 0] == 58
        header = (nd <= 10) & (nd < e - s) & colon
        movie = _forward_fill(np.where(header, value, -1), header, current)
        total += int(np.count_nonzero(~header & (movie >= 0) & _kept(movie, keep_arr)))
        if header.any():
            current = int(value[np.flatnonzero(header)[-1]])
    return total, newlines


def _forward_fill(values: Int64Array, mark: npt.NDArray[np.bool_], carry: int) -> Int64Array:
    """For each line, the value of the last marked line at or before it (``carry`` if none)."""
    idx = np.where(mark, np.arange(values.size), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, values[np.maximum(idx, 0)], carry)


def numpy_parse(
    data: Any,
    kind: int,
    keep: Any,
    user: Any,
    movie: Any,
    rating: Any,
    date: Any,
) -> tuple[int, int, int, int]:
    """The numpy twin of the C ``parse``; same arguments, results and stopping line."""
    _check_kind(kind)
    buf = np.frombuffer(data, dtype=np.uint8)
    keep_arr = _as_keep(keep)
    out_user = np.frombuffer(user, dtype=np.int32)
    out_movie = np.frombuffer(movie, dtype=np.int32)
    out_rating = None if kind != KIND_RATINGS else np.frombuffer(rating, dtype=np.int8)
    out_date = None if kind == KIND_PROBE else np.frombuffer(date, dtype=np.int64)
    capacity = min(a.size for a in (out_user, out_movie, out_rating, out_date) if a is not None)
    starts, all_ends, _ = _line_bounds(buf)
    written = 0
    current = -1
    for lo in range(0, starts.size, _BATCH_LINES):
        s, e = starts[lo : lo + _BATCH_LINES], all_ends[lo : lo + _BATCH_LINES]
        cr = (e > s) & (buf[np.maximum(e - 1, 0)] == 13) if buf.size else e > s
        e = e - cr
        n = e - s
        nd, ident, id_ok = _leading_id(buf, s, n)
        after = s + np.minimum(nd, 10)
        sep = _gather(buf, after, 3)
        header = id_ok & (n == nd + 1) & (sep[:, 0] == 58)
        if kind == KIND_RATINGS:
            stars = sep[:, 1].astype(np.int64) - 48
            date_ok, days = _dates(buf, after + 3)
            record = id_ok & (n == nd + 13) & (sep[:, 0] == 44) & (sep[:, 2] == 44)
            record &= (stars >= 1) & (stars <= 5) & date_ok
        elif kind == KIND_PROBE:
            stars, days = np.zeros_like(n), np.zeros_like(n)
            record = id_ok & (n == nd)
        else:
            stars = np.zeros_like(n)
            date_ok, days = _dates(buf, after + 1)
            record = id_ok & (n == nd + 11) & (sep[:, 0] == 44) & date_ok
        mov = _forward_fill(ident, header, current)
        bad_code = np.where(
            ~(header | record), MALFORMED, np.where(record & (mov < 0), NO_HEADER, 0)
        )
        keep_row = record & (mov >= 0) & _kept(mov, keep_arr)
        stop = int(np.argmax(bad_code != 0)) if bad_code.any() else n.size
        rows = np.flatnonzero(keep_row[:stop])
        if written + rows.size > capacity:
            over = int(rows[capacity - written])
            _fill(
                out_user,
                out_movie,
                out_rating,
                out_date,
                written,
                rows[: capacity - written],
                ident,
                mov,
                stars,
                days,
            )
            return capacity, CAPACITY, lo + over + 1, int(s[over])
        _fill(out_user, out_movie, out_rating, out_date, written, rows, ident, mov, stars, days)
        written += rows.size
        if stop < n.size:
            return written, int(bad_code[stop]), lo + stop + 1, int(s[stop])
        if header.any():
            current = int(ident[np.flatnonzero(header)[-1]])
    return written, OK, 0, 0


def _fill(
    out_user: Int32Array,
    out_movie: Int32Array,
    out_rating: Int8Array | None,
    out_date: Int64Array | None,
    at: int,
    rows: npt.NDArray[np.intp],
    ident: Int64Array,
    mov: Int64Array,
    stars: Int64Array,
    days: Int64Array,
) -> None:
    end = at + rows.size
    out_user[at:end] = ident[rows]
    out_movie[at:end] = mov[rows]
    if out_rating is not None:
        out_rating[at:end] = stars[rows]
    if out_date is not None:
        out_date[at:end] = days[rows]


def _check_kind(kind: int) -> None:
    if kind not in _KIND_NAMES:
        raise ValueError(f"kind must be 0, 1 or 2, got {kind}")


_CK_STEP = 0x9E3779B97F4A7C15
_CK_MUL = np.uint64(0xD6E8FEB86659FD93)
_U64 = (1 << 64) - 1


def _ck_mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    x ^= x >> np.uint64(29)
    x *= _CK_MUL
    return x


def numpy_checksum(data: Any, *, block: int = 1 << 20) -> int:
    """64-bit checksum of the bytes of ``data``; the same function as the C kernel's ``checksum``.

    The bytes are read as little-endian 64-bit words ``w_1 .. w_m`` (the last zero-padded);
    ``h = sum(mix(w_i + i * K)) mod 2**64`` xor the byte length, with
    ``mix(x) = (x ^ x >> 29) * M``. Both steps are invertible, so ``mix`` is a bijection:
    changing any one word always changes ``h``, and the position term makes moved words count.
    It detects damage (flipped bits, swapped or truncated columns), not deliberate tampering.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    n = int(buf.size)
    words = n // 8
    total = 0
    for start in range(0, words, block):
        stop = min(words, start + block)
        w = buf[8 * start : 8 * stop].view("<u8").astype(np.uint64)
        pos = np.arange(start + 1, stop + 1, dtype=np.uint64) * np.uint64(_CK_STEP)
        total += int(_ck_mix(w + pos).sum(dtype=np.uint64))
    if n % 8:
        tail = np.zeros(8, dtype=np.uint8)
        tail[: n % 8] = buf[8 * words :]
        pos = np.array([words + 1], dtype=np.uint64) * np.uint64(_CK_STEP)
        total += int(_ck_mix(tail.view("<u8").astype(np.uint64) + pos)[0])
    return (total & _U64) ^ n
