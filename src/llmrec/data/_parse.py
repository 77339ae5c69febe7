"""Parsing the Netflix Prize line format: a numpy kernel, the C kernel, and the parallel driver.

The files are blocks of lines; ``N:`` opens movie N and each following line is one record of it.
Three record kinds share the layout (the ``KIND_*`` constants)::

    ratings     CustomerID,Rating,YYYY-MM-DD     combined_data_*.txt, training_set/mv_*.txt
    probe       CustomerID                       probe.txt
    qualifying  CustomerID,YYYY-MM-DD            qualifying.txt

Grammar, shared by both kernels: lines end in ``\\n``; one ``\\r`` right before the end is dropped
(CRLF files parse like LF files); the last line may lack its ``\\n``; a blank line is an error;
ids are 1-10 ASCII digits with a value from 1 to 2,147,483,647; a rating is one digit 1-5; a date
is exactly ``YYYY-MM-DD``, year 1-9999, a real proleptic-Gregorian day (``2005-02-30`` is
rejected). Nothing else is accepted, and no line is skipped.

A kernel offers ``count(data, kind, keep) -> (records, newlines)`` (an upper bound on the records,
exact for well-formed input) and ``parse(data, kind, keep, user, movie, rating, date) -> (written,
code, line, offset)`` which fills caller-allocated arrays and stops at the first bad line. The C
kernel (``_netflix_parse``, built from ``_netflix_parse.c``) releases the GIL; the numpy kernel
here is the fallback when the extension is not built, and the cross-check in the tests.

:func:`read_records` splits files into chunks that each start at a header line, counts them in a
thread pool, allocates the output arrays once, and parses every chunk straight into its slice.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec._progress import progress_bar
from llmrec.errors import DataFormatError

__all__ = [
    "BACKENDS",
    "CHUNK_BYTES",
    "KIND_PROBE",
    "KIND_QUALIFYING",
    "KIND_RATINGS",
    "Records",
    "default_backend",
    "describe",
    "numpy_count",
    "numpy_parse",
    "read_records",
]

KIND_RATINGS = 0
KIND_PROBE = 1
KIND_QUALIFYING = 2
_KIND_NAMES = {KIND_RATINGS: "ratings", KIND_PROBE: "probe", KIND_QUALIFYING: "qualifying"}
_RECORD_FORMS = {
    KIND_RATINGS: "CustomerID,Rating,YYYY-MM-DD",
    KIND_PROBE: "CustomerID",
    KIND_QUALIFYING: "CustomerID,YYYY-MM-DD",
}

OK = 0
MALFORMED = 1
NO_HEADER = 2
CAPACITY = 3

CHUNK_BYTES = 32 << 20
"""Files larger than this are split (at header lines) so one big file still uses every core."""

_MAX_ID = 2_147_483_647
_SMALL_FILE = 1 << 20
_BATCH_LINES = 1 << 20
_TEXT_LIMIT = 200

Int32Array = npt.NDArray[np.int32]
Int8Array = npt.NDArray[np.int8]
Int64Array = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]
CountFn = Callable[[Any, int, Any, bool], tuple[int, int]]
ParseFn = Callable[[Any, int, Any, Any, Any, Any, Any], tuple[int, int, int, int]]


# -- numpy kernel ----------------------------------------------------------------------------
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


# -- kernels -----------------------------------------------------------------------------------
def _load_backends() -> dict[str, tuple[CountFn, ParseFn]]:
    found: dict[str, tuple[CountFn, ParseFn]] = {"numpy": (numpy_count, numpy_parse)}
    try:
        from llmrec.data import _netflix_parse
    except ImportError:  # the extension is not built: the numpy kernel keeps the loader usable
        return found
    found["c"] = (_netflix_parse.count, _netflix_parse.parse)
    return found


BACKENDS: dict[str, tuple[CountFn, ParseFn]] = _load_backends()
"""Available kernels by name: ``"numpy"`` always, ``"c"`` when the extension is built."""


def default_backend() -> str:
    """``"c"`` when the extension is built, else ``"numpy"``."""
    return "c" if "c" in BACKENDS else "numpy"


# -- error messages ----------------------------------------------------------------------------
def _id_problem(text: bytes, what: str) -> str | None:
    if not text.isdigit() or not text.isascii():
        return f"{what} must be a whole number (ASCII digits only)"
    if len(text) > 10 or not 1 <= int(text) <= _MAX_ID:
        return f"{what} must be from 1 to {_MAX_ID:,}"
    return None


def _date_problem(text: bytes) -> str | None:
    import datetime as dt
    import re

    if not re.fullmatch(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return "date must be YYYY-MM-DD"
    try:
        dt.date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return "no such date (expected a real calendar day, YYYY-MM-DD)"
    return None


def describe(line: bytes, kind: int, code: int) -> str:
    """Why ``line`` (without its ``\\n``) was rejected, for the :class:`DataFormatError`."""
    form = _RECORD_FORMS[kind]
    if code == NO_HEADER:
        return "record before any 'N:' movie header (each block must start with 'N:')"
    if code == CAPACITY:
        return "the file changed while it was being read; load it again"
    text = line[:-1] if line.endswith(b"\r") else line
    if not text:
        return "blank line (only a single newline at the end of the file is allowed)"
    if b":" in text:
        problem = _id_problem(text[:-1], "movie id") if text.endswith(b":") else None
        return problem or "malformed movie header (expected 'N:' with N a movie id)"
    fields = text.split(b",")
    expected = form.count(",") + 1
    if len(fields) < expected:
        return f"truncated line: expected {form}"
    if len(fields) > expected:
        return f"too many fields: expected {form}"
    problem = _id_problem(fields[0], "customer id")
    if problem is None and kind == KIND_RATINGS and fields[1] not in (b"1", b"2", b"3", b"4", b"5"):
        problem = "rating must be a whole number from 1 to 5"
    if problem is None and kind != KIND_PROBE:
        problem = _date_problem(fields[-1])
    return problem or f"malformed line: expected {form}"


# -- driver --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Records:
    """Parsed columns; ``rating`` only for ratings, ``date`` (datetime64[D]) not for probe."""

    user_id: Int32Array
    movie_id: Int32Array
    rating: Int8Array | None
    date: npt.NDArray[np.datetime64] | None


@dataclass(frozen=True)
class _Chunk:
    path: Path
    start: int
    end: int


@dataclass(frozen=True)
class _Outcome:
    written: int
    code: int
    line: int
    text: bytes


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[memoryview]:
    """The bytes of ``path``: memory-mapped (read-only), or read whole if the file is small."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size < _SMALL_FILE:  # a plain read is cheaper than a map
            yield memoryview(fh.read())
            return
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            with memoryview(mm) as view:
                yield view
        finally:
            mm.close()


def _plan(path: Path, chunk_bytes: int) -> list[_Chunk]:
    """Split ``path`` into pieces of about ``chunk_bytes`` that each begin at a header line."""
    size = path.stat().st_size
    if size <= chunk_bytes:
        return [_Chunk(path, 0, size)]
    cuts = [0]
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        target = chunk_bytes
        while target < size:
            colon = mm.find(b":", target)
            if colon < 0:
                break
            start = mm.rfind(b"\n", 0, colon) + 1
            if start > cuts[-1]:
                cuts.append(start)
            target = max(colon + 1, cuts[-1] + chunk_bytes)
    cuts.append(size)
    return [_Chunk(path, a, b) for a, b in itertools.pairwise(cuts)]


def read_records(
    files: Sequence[Path],
    kind: int,
    keep: UInt8Array | None = None,
    *,
    backend: str | None = None,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    progress: bool = False,
) -> Records:
    """Parse ``files`` in order (file order, then line order) into :class:`Records`.

    ``keep`` is ``None`` or a uint8 array indexed by movie id (non-zero keeps the movie);
    records of other movies are still validated. Raises :class:`DataFormatError` naming the
    file, the 1-based line and its text at the first bad line in file order.
    """
    count_fn, parse_fn = BACKENDS[backend or default_backend()]
    _check_kind(kind)
    chunks = [c for f in files for c in _plan(Path(f), chunk_bytes)]
    n_workers = max(1, min(workers or _cpus(), len(chunks)))
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        run = _Run(chunks, kind, keep, count_fn, parse_fn, pool, progress)
        if not run.attempt(exact=False):  # a malformed file beat the fast count: recount
            run.attempt(exact=True)
    return run.result()


def _cpus() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class _Run:
    """One :func:`read_records` call: count chunks, allocate once, parse into slices."""

    def __init__(
        self,
        chunks: list[_Chunk],
        kind: int,
        keep: UInt8Array | None,
        count_fn: CountFn,
        parse_fn: ParseFn,
        pool: ThreadPoolExecutor,
        progress: bool,
    ) -> None:
        self.chunks, self.kind, self.keep = chunks, kind, keep
        self.count_fn, self.parse_fn, self.pool, self.progress = count_fn, parse_fn, pool, progress
        self.counts: list[tuple[int, int]] = []
        self.outcomes: list[_Outcome] = []
        self.offsets = np.zeros(1, np.int64)
        self.user = self.movie = np.empty(0, np.int32)
        self.rating: Int8Array | None = None
        self.date: npt.NDArray[np.datetime64] | None = None

    def _count_one(self, c: _Chunk, exact: bool) -> tuple[int, int]:
        with _mapped(c.path) as view, view[c.start : c.end] as part:
            return self.count_fn(part, self.kind, self.keep, exact)

    def attempt(self, *, exact: bool) -> bool:
        """Count and parse every chunk; False if the count fell short (retry with ``exact``)."""
        self.counts = list(self.pool.map(lambda c: self._count_one(c, exact), self.chunks))
        bounds = np.array([c[0] for c in self.counts], dtype=np.int64)
        self.offsets = np.concatenate([np.zeros(1, np.int64), np.cumsum(bounds)])
        total = int(self.offsets[-1])
        self.user = np.empty(total, dtype=np.int32)
        self.movie = np.empty(total, dtype=np.int32)
        self.rating = np.empty(total, dtype=np.int8) if self.kind == KIND_RATINGS else None
        self.date = np.empty(total, dtype="datetime64[D]") if self.kind != KIND_PROBE else None
        self.outcomes = _run_ordered(self.pool, self._parse_one, self.chunks, self.progress)
        return exact or all(o.code != CAPACITY for o in self.outcomes)

    def _parse_one(self, i: int) -> _Outcome:
        c, lo, hi = self.chunks[i], int(self.offsets[i]), int(self.offsets[i + 1])
        with _mapped(c.path) as view, view[c.start : c.end] as part:
            written, code, line, offset = self.parse_fn(
                part,
                self.kind,
                self.keep,
                self.user[lo:hi],
                self.movie[lo:hi],
                None if self.rating is None else self.rating[lo:hi],
                None if self.date is None else self.date.view(np.int64)[lo:hi],
            )
            text = b""
            if code != OK:
                text = part[offset : offset + _TEXT_LIMIT + 2].tobytes().split(b"\n", 1)[0]
        return _Outcome(written, code, line, text)

    def result(self) -> Records:
        """The parsed columns, or the :class:`DataFormatError` of the first bad line."""
        _raise_first_error(self.chunks, self.counts, self.outcomes, self.kind)
        user, movie, rating, date = self.user, self.movie, self.rating, self.date
        written = [o.written for o in self.outcomes]
        if written != [c[0] for c in self.counts]:  # fewer records than counted: compact
            off = self.offsets
            pieces = [slice(int(off[i]), int(off[i]) + w) for i, w in enumerate(written)]
            user = np.concatenate([user[s] for s in pieces])
            movie = np.concatenate([movie[s] for s in pieces])
            rating = None if rating is None else np.concatenate([rating[s] for s in pieces])
            date = None if date is None else np.concatenate([date[s] for s in pieces])
        return Records(user, movie, rating, date)


def _run_ordered(
    pool: ThreadPoolExecutor, fn: Callable[[int], _Outcome], chunks: list[_Chunk], show: bool
) -> list[_Outcome]:
    """Run ``fn`` over chunk indexes; after a failure, skip chunks that come after it."""
    futures: list[Future[_Outcome]] = [pool.submit(fn, i) for i in range(len(chunks))]
    bar = progress_bar(enabled=show, total=sum(c.end - c.start for c in chunks), desc="parsing")
    results: list[_Outcome] = []
    failed = False
    try:
        for i, fut in enumerate(futures):
            if failed:
                fut.cancel()
                continue
            results.append(fut.result())
            bar.update(chunks[i].end - chunks[i].start)
            failed = results[-1].code != OK
    finally:
        for fut in futures:
            fut.cancel()
        bar.close()
    return results


def _raise_first_error(
    chunks: list[_Chunk], counts: list[tuple[int, int]], outcomes: list[_Outcome], kind: int
) -> None:
    for i, out in enumerate(outcomes):
        if out.code == OK:
            continue
        c = chunks[i]
        before = sum(
            counts[j][1] for j in range(i) if chunks[j].path == c.path and chunks[j].end <= c.start
        )
        text = out.text[:-1] if out.text.endswith(b"\r") else out.text
        raise DataFormatError(
            describe(text, kind, out.code),
            path=c.path,
            line=before + out.line,
            text=text.decode("latin-1"),
        )
