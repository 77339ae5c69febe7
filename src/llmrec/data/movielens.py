"""Reading the MovieLens data sets (GroupLens) into :class:`Ratings` and a :class:`Catalog`.

Three file layouts exist, told apart by which ratings file a folder holds:

=================  =========================================  ====================================
variant            ratings                                    movies
=================  =========================================  ====================================
ml-100k            ``u.data``: ``user<TAB>item<TAB>rating      ``u.item``: ``id|Title (Year)|date|
                   <TAB>timestamp``                           ...``, ISO-8859-1
ml-1m (ml-10m)     ``ratings.dat``: ``User::Movie::Rating      ``movies.dat``: ``id::Title (Year)::
                   ::Timestamp``                              Genres``, ISO-8859-1
ml-latest, -small, ``ratings.csv`` with header ``userId,        ``movies.csv``: ``movieId,title,
ml-20m, ml-25m     movieId,rating,timestamp``                 genres``, quoted CSV, UTF-8
=================  =========================================  ====================================

Decisions:

* **Half stars.** ml-latest and ml-10m+ rate in half stars 0.5-5.0 but :class:`Ratings` holds
  int8 stars 1-5. By default half stars round **up** (0.5→1, 3.5→4, 4.5→5), which is
  ``ceil(rating)`` on the half-star grid and keeps every rating ≥ 4.5 a "5-star" rating;
  ``half_stars="down"`` floors instead (3.5→3, 4.5→4, and 0.5→1 since 0 is no star).
* **Dates and times.** Unix timestamps (seconds, UTC) are kept to the second in
  :attr:`Ratings.time` (``datetime64[s]``), and ``date`` is their UTC calendar day.
* **Titles.** ``"Title (Year)"`` splits into title and year; the title text stays as written
  (``"Matrix, The"`` keeps its trailing article: the title resolver handles articles). A title
  without a trailing year (or with ``(2006-2007)`` style ranges, whose first year is taken) gets
  the year from ml-100k's release date where there is one, else ``None``.

Ratings files are parsed with vectorised numpy over the raw bytes (no per-line Python), in
chunks of a few megabytes; every line must have exactly four well-formed fields, and the first
bad line raises :class:`DataFormatError` with the file, the 1-based line number and its text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from llmrec._paths import expand_path
from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import DataFormatError, DataNotFoundError

__all__ = [
    "HalfStars",
    "load_ml1m",
    "load_ml100k",
    "load_ml_latest",
    "load_movielens",
    "parse_title",
]

HalfStars = Literal["up", "down"]
PathArg = str | Path

_CHUNK_BYTES = 8 << 20
_SEP = 0x1F  # multi-byte separators ("::") are rewritten to this single byte before parsing
_INT32_MAX = 2_147_483_647
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$")


# -- titles ----------------------------------------------------------------------------------


def parse_title(text: str) -> tuple[str, int | None]:
    """Split ``"Title (Year)"`` into ``("Title", Year)``; no trailing year gives ``None``.

    >>> parse_title("Matrix, The (1999)")
    ('Matrix, The', 1999)
    >>> parse_title("Babylon 5")
    ('Babylon 5', None)
    """
    m = _TITLE_YEAR.match(text)
    if m is None:
        return text.strip(), None
    return m.group("title"), int(m.group("year"))


def _catalog(movies: list[Movie], path: Path, lines: list[int]) -> Catalog:
    seen: dict[int, int] = {}
    for movie, line in zip(movies, lines, strict=True):
        if movie.movie_id in seen:
            raise DataFormatError(
                f"movie id {movie.movie_id} repeats line {seen[movie.movie_id]}",
                path=path,
                line=line,
                text=str(movie.movie_id),
            )
        seen[movie.movie_id] = line
    return Catalog(movies)


def _movie_id(field: str, path: Path, line: int, text: str) -> int:
    if not field.isascii() or not field.isdigit() or not 1 <= int(field) <= _INT32_MAX:
        raise DataFormatError(
            "movie id must be a positive integer", path=path, line=line, text=text
        )
    return int(field)


def _read_u_item(path: Path, encoding: str) -> Catalog:
    """ml-100k ``u.item``: ``id|title|release date|video date|url|19 genre flags``."""
    movies: list[Movie] = []
    lines: list[int] = []
    for no, text in enumerate(path.read_bytes().decode(encoding).splitlines(), start=1):
        if not text:
            raise DataFormatError("blank line", path=path, line=no, text=text)
        fields = text.split("|")
        if len(fields) < 3:
            raise DataFormatError(
                "expected id|title|release date|...", path=path, line=no, text=text
            )
        title, year = parse_title(fields[1])
        if year is None and re.fullmatch(r"\d{2}-[A-Za-z]{3}-\d{4}", fields[2]):
            year = int(fields[2][-4:])
        movies.append(Movie(_movie_id(fields[0], path, no, text), title, year))
        lines.append(no)
    return _catalog(movies, path, lines)


def _read_movies_dat(path: Path, encoding: str) -> Catalog:
    """ml-1m ``movies.dat``: ``id::Title (Year)::Genres``."""
    movies: list[Movie] = []
    lines: list[int] = []
    for no, text in enumerate(path.read_bytes().decode(encoding).splitlines(), start=1):
        fields = text.split("::")
        if len(fields) < 3:
            raise DataFormatError("expected MovieID::Title::Genres", path=path, line=no, text=text)
        title, year = parse_title("::".join(fields[1:-1]))
        movies.append(Movie(_movie_id(fields[0], path, no, text), title, year))
        lines.append(no)
    return _catalog(movies, path, lines)


def _read_movies_csv(path: Path, encoding: str) -> Catalog:
    """ml-latest ``movies.csv``: header ``movieId,title,genres``, RFC 4180 quoting."""
    text = path.read_bytes().decode(encoding)
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    movies: list[Movie] = []
    lines: list[int] = []
    try:
        header = next(reader, None)
        if header != ["movieId", "title", "genres"]:
            raise DataFormatError(
                "expected the header movieId,title,genres", path=path, line=1, text=str(header)
            )
        for row in reader:
            no = reader.line_num
            if len(row) != 3:
                raise DataFormatError(
                    "expected 3 fields movieId,title,genres", path=path, line=no, text=",".join(row)
                )
            title, year = parse_title(row[1])
            movies.append(Movie(_movie_id(row[0], path, no, ",".join(row)), title, year))
            lines.append(no)
    except csv.Error as exc:
        raise DataFormatError(f"bad CSV: {exc}", path=path, line=reader.line_num) from None
    return _catalog(movies, path, lines)


# -- ratings: vectorised parsing of four-field lines -----------------------------------------


def _byte_chunks(data: bytes, size: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, chunk)`` pieces of ``data`` ending at line ends, each about ``size`` bytes."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", min(start + size, len(data)) - 1)
        end = len(data) if end < 0 else end + 1
        yield start, data[start:end]
        start = end


def _uint_field(
    buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], w: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Unsigned decimal integers of at most ``w`` digits, and which fields were well formed.

    Column by column over the digits (``value = 10·value + digit`` where the field is that
    long), so the work is a few vector operations per digit position.
    """
    width = ends - starts
    ok = (width >= 1) & (width <= w)
    value = np.zeros(width.size, dtype=np.int64)
    last = buf.size - 1
    for c in range(min(int(width.max(initial=0)), w)):
        active = width > c
        digit = buf[np.minimum(starts + c, last)].astype(np.int64) - 48
        ok &= ~active | ((digit >= 0) & (digit <= 9))
        value = np.where(active, value * 10 + digit, value)
    return value, ok


def _half_star_field(
    buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Ratings ``D`` or ``D.D`` (``.0`` or ``.5``) as a count of half stars, and validity."""
    width = ends - starts
    whole = buf[np.minimum(starts, buf.size - 1)].astype(np.int64) - 48
    dot = buf[np.minimum(starts + 1, buf.size - 1)]
    frac = buf[np.minimum(starts + 2, buf.size - 1)].astype(np.int64) - 48
    one = width == 1
    three = (width == 3) & (dot == ord(".")) & ((frac == 0) | (frac == 5))
    half = 2 * whole + np.where(three & (frac == 5), 1, 0)
    ok = (one | three) & (whole >= 0) & (whole <= 5) & (half >= 1) & (half <= 10)
    return half, ok


def _fail(
    path: Path, message: str, chunk: bytes, line_starts: npt.NDArray[np.int64], i: int, no: int
) -> DataFormatError:
    end = chunk.find(b"\n", int(line_starts[i]))
    text = chunk[int(line_starts[i]) : end if end >= 0 else len(chunk)]
    shown = text.replace(bytes([_SEP]), b"::").decode("utf-8", "replace")
    return DataFormatError(message, path=path, line=no, text=shown)


def _parse_chunk(
    chunk: bytes, path: Path, first_line: int, sep: int, sep_text: str
) -> tuple[npt.NDArray[np.int64], ...]:
    """Parse whole lines ``user SEP movie SEP rating SEP timestamp`` of one chunk."""
    buf = np.frombuffer(chunk, dtype=np.uint8)
    is_nl = buf == 10
    line_ends = np.flatnonzero(is_nl)
    n = line_ends.size
    line_starts = np.concatenate(([0], line_ends[:-1] + 1)).astype(np.int64)
    bounds = np.flatnonzero(is_nl | (buf == sep))
    line_of = np.cumsum(is_nl[bounds]) - is_nl[bounds]
    per_line = np.bincount(line_of, minlength=n)
    bad = np.flatnonzero(per_line != 4)
    if bad.size:
        i = int(bad[0])
        raise _fail(
            path,
            f"expected 4 fields separated by {sep_text!r}",
            chunk,
            line_starts,
            i,
            first_line + i,
        )
    ends = bounds.reshape(n, 4).astype(np.int64)
    starts = np.empty_like(ends)
    starts[:, 0] = line_starts
    starts[:, 1:] = ends[:, :-1] + 1
    user, ok_u = _uint_field(buf, starts[:, 0], ends[:, 0], 10)
    movie, ok_m = _uint_field(buf, starts[:, 1], ends[:, 1], 10)
    half, ok_r = _half_star_field(buf, starts[:, 2], ends[:, 2])
    stamp, ok_t = _uint_field(buf, starts[:, 3], ends[:, 3], 12)
    checks = (
        (ok_u & (user >= 1) & (user <= _INT32_MAX), "user id must be an integer 1..2147483647"),
        (ok_m & (movie >= 1) & (movie <= _INT32_MAX), "movie id must be an integer 1..2147483647"),
        (ok_r, "rating must be 1-5 stars, or 0.5-5.0 in half stars"),
        (ok_t, "timestamp must be whole Unix seconds"),
    )
    for ok, message in checks:
        if not ok.all():
            i = int(np.argmin(ok))
            raise _fail(path, message, chunk, line_starts, i, first_line + i)
    return user, movie, half, stamp


def _read_ratings(path: Path, *, sep: bytes, header: str | None, half_stars: HalfStars) -> Ratings:
    """Parse a four-field ratings file with vectorised numpy (see the module docstring)."""
    if half_stars not in ("up", "down"):
        raise ValueError(f"half_stars must be 'up' or 'down', got {half_stars!r}")
    data = path.read_bytes()
    first_line = 1
    if header is not None:
        cut = data.find(b"\n")
        head = data[: cut if cut >= 0 else len(data)].rstrip(b"\r").decode("utf-8", "replace")
        if head.removeprefix("\ufeff") != header:
            raise DataFormatError(f"expected the header {header}", path=path, line=1, text=head)
        data = data[cut + 1 :] if cut >= 0 else b""
        first_line = 2
    if b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    if data and not data.endswith(b"\n"):
        data += b"\n"
    sep_byte = sep[0] if len(sep) == 1 else _SEP
    if len(sep) > 1:
        data = data.replace(sep, bytes([_SEP]))
    parts: list[tuple[npt.NDArray[np.int64], ...]] = []
    line = first_line
    for _, chunk in _byte_chunks(data, _CHUNK_BYTES):
        parts.append(_parse_chunk(chunk, path, line, sep_byte, sep.decode()))
        line += parts[-1][0].size
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Ratings(
            empty, empty, empty, empty.astype("datetime64[D]"), time=empty.astype("datetime64[s]")
        )
    user, movie, half, stamp = (np.concatenate(col) for col in zip(*parts, strict=True))
    stars = (half + 1) // 2 if half_stars == "up" else np.maximum(half // 2, 1)
    return Ratings(
        user.astype(np.int32),
        movie.astype(np.int32),
        stars.astype(np.int8),
        (stamp // 86_400).astype("datetime64[D]"),
        time=stamp.astype("datetime64[s]"),
    )


# -- public loaders --------------------------------------------------------------------------


def _need(folder: PathArg, name: str) -> Path:
    path = expand_path(folder) / name
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found (expected the MovieLens file {name!r})")
    return path


def load_ml100k(path: PathArg, *, encoding: str = "iso-8859-1") -> tuple[Ratings, Catalog]:
    """ml-100k: ``u.data`` (tab-separated ``user item rating timestamp``) and ``u.item``."""
    ratings = _read_ratings(_need(path, "u.data"), sep=b"\t", header=None, half_stars="up")
    return ratings, _read_u_item(_need(path, "u.item"), encoding)


def load_ml1m(
    path: PathArg, *, encoding: str = "iso-8859-1", half_stars: HalfStars = "up"
) -> tuple[Ratings, Catalog]:
    """ml-1m (and ml-10m): ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``), ``movies.dat``.

    ml-10m rates in half stars; ``half_stars`` says how they become 1-5 stars.
    """
    ratings = _read_ratings(
        _need(path, "ratings.dat"), sep=b"::", header=None, half_stars=half_stars
    )
    return ratings, _read_movies_dat(_need(path, "movies.dat"), encoding)


def load_ml_latest(
    path: PathArg, *, encoding: str = "utf-8", half_stars: HalfStars = "up"
) -> tuple[Ratings, Catalog]:
    """ml-latest, ml-latest-small, ml-20m, ml-25m: ``ratings.csv`` and ``movies.csv``.

    Half stars (0.5-5.0) become 1-5 stars by ``half_stars`` (default: round up).
    """
    ratings = _read_ratings(
        _need(path, "ratings.csv"),
        sep=b",",
        header="userId,movieId,rating,timestamp",
        half_stars=half_stars,
    )
    return ratings, _read_movies_csv(_need(path, "movies.csv"), encoding)


_VARIANTS: tuple[tuple[str, Callable[[PathArg], tuple[Ratings, Catalog]]], ...] = (
    ("u.data", load_ml100k),
    ("ratings.dat", load_ml1m),
    ("ratings.csv", load_ml_latest),
)


def _loader(folder: Path) -> Callable[[PathArg], tuple[Ratings, Catalog]] | None:
    for name, loader in _VARIANTS:
        if (folder / name).is_file():
            return loader
    return None


def load_movielens(path: PathArg) -> tuple[Ratings, Catalog]:
    """Load a MovieLens folder, recognised by its ratings file.

    ``u.data`` means ml-100k, ``ratings.dat`` ml-1m, ``ratings.csv`` ml-latest / ml-25m. A folder
    holding exactly one MovieLens folder (the unpacked zip's parent) works too.
    """
    root = expand_path(path)
    if not root.is_dir():
        raise DataNotFoundError(f"no such MovieLens folder: {root}")
    loader = _loader(root)
    if loader is not None:
        return loader(root)
    found = [(p, f) for p in sorted(root.iterdir()) if p.is_dir() and (f := _loader(p))]
    if len(found) == 1:
        return found[0][1](found[0][0])
    many = f"; found several: {', '.join(p.name for p, _ in found)}" if found else ""
    raise DataFormatError(
        "not a MovieLens folder: expected u.data (ml-100k), ratings.dat (ml-1m) or "
        f"ratings.csv (ml-latest, ml-25m){many}",
        path=root,
    )
