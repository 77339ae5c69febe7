"""Parsing the Netflix Prize line format: grammar, kernel choice, error messages, parallel driver.

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
(:mod:`llmrec.data._parse_numpy`, which also defines the record kinds and result codes both
kernels share) is the fallback when the extension is not built, and the cross-check in the tests.

:func:`read_records` splits files into chunks that each start at a header line, counts them in a
thread pool, allocates the output arrays once, and parses every chunk straight into its slice.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec._progress import progress_bar
from llmrec.data._parse_numpy import (
    _MAX_ID,
    CAPACITY,
    KIND_PROBE,
    KIND_QUALIFYING,
    KIND_RATINGS,
    NO_HEADER,
    OK,
    Int8Array,
    Int32Array,
    UInt8Array,
    _check_kind,
    numpy_checksum,
    numpy_count,
    numpy_parse,
)
from llmrec.data._parse_numpy import MALFORMED as MALFORMED  # result code, re-exported
from llmrec.errors import DataFormatError

__all__ = [
    "BACKENDS",
    "CHECKSUMS",
    "CHUNK_BYTES",
    "KIND_PROBE",
    "KIND_QUALIFYING",
    "KIND_RATINGS",
    "Records",
    "checksum",
    "default_backend",
    "describe",
    "numpy_count",
    "numpy_parse",
    "read_records",
]

_RECORD_FORMS = {
    KIND_RATINGS: "CustomerID,Rating,YYYY-MM-DD",
    KIND_PROBE: "CustomerID",
    KIND_QUALIFYING: "CustomerID,YYYY-MM-DD",
}

CHUNK_BYTES = 32 << 20
"""Files larger than this are split (at header lines) so one big file still uses every core."""

_TEXT_LIMIT = 200

CountFn = Callable[[Any, int, Any, bool], tuple[int, int]]
ParseFn = Callable[[Any, int, Any, Any, Any, Any, Any], tuple[int, int, int, int]]


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


def _load_checksums() -> dict[str, Callable[[Any], int]]:
    found: dict[str, Callable[[Any], int]] = {"numpy": numpy_checksum}
    try:
        from llmrec.data import _netflix_parse
    except ImportError:
        return found
    found["c"] = _netflix_parse.checksum
    return found


CHECKSUMS: dict[str, Callable[[Any], int]] = _load_checksums()
"""The 64-bit column checksum by kernel (equal results; see ``numpy_checksum``)."""


def checksum(data: Any) -> int:
    """64-bit checksum of the bytes of ``data`` with the default kernel (GIL released in C)."""
    return CHECKSUMS[default_backend()](data)


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


BOM = b"\xef\xbb\xbf"
"""A UTF-8 byte order mark; skipped at the start of a file (the rest is ASCII anyway)."""

_WINDOW = 1 << 16


class _Changed(Exception):
    """A file held fewer bytes than planned: it was truncated or replaced while being read."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.path = path


_buffers = threading.local()


def _read_range(path: Path, start: int, end: int) -> memoryview:
    """Bytes ``start:end`` of ``path``, read with plain reads into this thread's buffer.

    No memory map: a file truncated meanwhile gives a short read (:class:`_Changed`), never a
    SIGBUS. The buffer is reused by the thread's next chunk, so callers copy what they keep.
    """
    size = end - start
    buf: npt.NDArray[np.uint8] | None = getattr(_buffers, "buf", None)
    if buf is None or buf.size < size:
        buf = _buffers.buf = np.empty(max(size, 1), dtype=np.uint8)  # not zero-filled
    view = buf.data[:size]
    with open(path, "rb") as fh:
        fh.seek(start)
        got = 0
        while got < size:
            n = fh.readinto(view[got:])
            if not n:
                raise _Changed(path)
            got += n
    return view


def _bom_length(path: Path) -> int:
    with open(path, "rb") as fh:
        return len(BOM) if fh.read(len(BOM)) == BOM else 0


def _plan(path: Path, chunk_bytes: int) -> list[_Chunk]:
    """Split ``path`` into pieces of about ``chunk_bytes`` that each begin at a header line.

    A leading UTF-8 byte order mark is left out of the first piece.
    """
    size = path.stat().st_size
    first = _bom_length(path)
    if size - first <= chunk_bytes:
        return [_Chunk(path, first, size)]
    cuts = [first]
    with open(path, "rb") as fh:
        target = first + chunk_bytes
        while target < size:
            # The header line holding the next ':' at or after ``target`` starts a new piece; a
            # line start more than a window back is not looked for (the next ':' is used).
            lo = max(cuts[-1], target - _WINDOW)
            fh.seek(lo)
            window = fh.read(2 * _WINDOW)
            colon = window.find(b":", target - lo)
            if colon < 0:
                if lo + len(window) >= size or not window:
                    break
                target = lo + len(window)
                continue
            newline = window.rfind(b"\n", 0, colon)
            start = lo + newline + 1 if newline >= 0 else -1  # -1: line start not in window
            if start > cuts[-1]:
                cuts.append(start)
            target = max(lo + colon + 1, cuts[-1] + chunk_bytes)
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
    try:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            run = _Run(chunks, kind, keep, count_fn, parse_fn, pool, progress)
            if not run.attempt(exact=False):  # a malformed file beat the fast count: recount
                run.attempt(exact=True)
    except _Changed as exc:
        raise DataFormatError(
            "the file became shorter while it was being read (truncated or replaced); "
            "load it again once it is complete",
            path=exc.path,
        ) from None
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
        return self.count_fn(_read_range(c.path, c.start, c.end), self.kind, self.keep, exact)

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
        part = _read_range(c.path, c.start, c.end)
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
            text = bytes(part[offset : offset + _TEXT_LIMIT + 2]).split(b"\n", 1)[0]
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
