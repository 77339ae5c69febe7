"""Vectorised writer of the Netflix Prize (Kaggle) text layout, used by the synthetic generator.

``combined_data_k.txt`` holds movies in id order in contiguous blocks: per movie a line ``N:``
then one ``CustomerID,Rating,YYYY-MM-DD`` line per rating, LF line ends. ``movie_titles.csv``
holds ``id,year,title`` lines in ISO-8859-1 with ``NULL`` for an unknown year. The functions
here turn generated arrays into those bytes (numpy byte matrices, no per-line Python), choose
where the files split, and cut the rows into movie-aligned chunks that bound the memory used.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import numpy.typing as npt

__all__ = ["FIRST_DAY", "LAST_DAY"]

#: The Netflix Prize rating period; every date written lies in it.
FIRST_DAY = np.datetime64("1999-11-11", "D")
LAST_DAY = np.datetime64("2005-12-31", "D")
_CHUNK_ROWS = 1 << 19

_W = 7  # digits reserved for a customer or movie id (2,649,429 has 7)
_POW = 10 ** np.arange(_W - 1, -1, -1, dtype=np.int64)
_DATE_TABLE: npt.NDArray[np.uint8] | None = None


def _date_table() -> npt.NDArray[np.uint8]:
    """ASCII ``YYYY-MM-DD`` for every day offset from :data:`FIRST_DAY`, shape ``(days, 10)``."""
    global _DATE_TABLE
    if _DATE_TABLE is None:
        days = np.arange(FIRST_DAY, LAST_DAY + np.timedelta64(1, "D"))
        text = "".join(str(d) for d in days).encode("ascii")
        _DATE_TABLE = np.frombuffer(text, dtype=np.uint8).reshape(-1, 10)
    return _DATE_TABLE


def _format_block(
    customer: npt.NDArray[np.int64],
    movie: npt.NDArray[np.int64],
    stars: npt.NDArray[np.int8],
    days: npt.NDArray[np.int64],
) -> bytes:
    """The bytes of ``N:`` headers and ``CustomerID,Rating,YYYY-MM-DD`` lines for whole movies.

    Every line is laid out in a fixed 21-column byte matrix with the id right-aligned in the
    first 7 columns; a mask drops the padding, so the whole block is formatted by numpy.
    """
    n = customer.size
    new = np.ones(n, dtype=bool)
    new[1:] = movie[1:] != movie[:-1]
    header_at = np.flatnonzero(new)
    rows = n + header_at.size
    is_head = np.zeros(rows, dtype=bool)
    is_head[header_at + np.arange(header_at.size)] = True
    ids = np.empty(rows, dtype=np.int64)
    ids[is_head] = movie[header_at]
    ids[~is_head] = customer
    width = 1 + np.searchsorted(_POW[::-1][1:], ids, side="right")
    mat = np.empty((rows, 21), dtype=np.uint8)
    mat[:, :_W] = (ids[:, None] // _POW[None, :]) % 10 + 48
    line = ~is_head
    mat[line, 7] = ord(",")
    mat[line, 8] = stars.astype(np.uint8) + 48
    mat[line, 9] = ord(",")
    mat[line, 10:20] = _date_table()[days]
    mat[:, 20] = ord("\n")
    mat[is_head, 7] = ord(":")
    mat[is_head, 8] = ord("\n")
    col = np.arange(21)
    keep = col[None, :] >= (_W - width)[:, None]
    keep[is_head, 9:] = False
    return mat[keep].tobytes()


def _file_bounds(movies: npt.NDArray[np.int64], n_movies: int, n_files: int) -> list[int]:
    """Last movie id of each file: contiguous id blocks holding about equal numbers of ratings."""
    per_movie = np.bincount(movies, minlength=n_movies + 1)[1:]
    cum = np.cumsum(per_movie)
    targets = cum[-1] * np.arange(1, n_files) / n_files
    ends = np.searchsorted(cum, targets, side="left") + 1
    bounds: list[int] = []
    prev = 0
    for i, e in enumerate(ends):
        e = int(np.clip(e, prev + 1, n_movies - (n_files - 1 - i)))
        bounds.append(e)
        prev = e
    return [*bounds, n_movies]


def _chunks(lo: int, hi: int, movie_starts: npt.NDArray[np.int64]) -> Iterator[tuple[int, int]]:
    """Row ranges ``[a, b)`` of about :data:`_CHUNK_ROWS` rows that never split a movie."""
    a = lo
    while a < hi:
        j = int(np.searchsorted(movie_starts, a + _CHUNK_ROWS, side="left"))
        b = hi if j >= movie_starts.size else min(hi, int(movie_starts[j]))
        yield a, b
        a = b


def _titles_csv(titles: Iterable[tuple[str, int | None]]) -> bytes:
    """``movie_titles.csv`` bytes for ``(title, year)`` pairs of movies 1, 2, ..."""
    lines = (f"{i},{'NULL' if y is None else y},{t}\n" for i, (t, y) in enumerate(titles, start=1))
    return "".join(lines).encode("iso-8859-1")
