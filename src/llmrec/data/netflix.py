"""Loading the Netflix Prize data: ratings, movie titles, and the probe and qualifying sets.

The ratings come as blocks of lines: ``N:`` opens movie N, and each following line is
``CustomerID,Rating,Date`` (``YYYY-MM-DD``). Two layouts exist: Kaggle's four
``combined_data_1.txt`` … ``combined_data_4.txt``, and the original ``training_set/`` folder with
one ``mv_0000001.txt`` … ``mv_0017770.txt`` per movie. The full set holds 100,480,507 ratings of
17,770 movies by 480,189 customers.

:func:`load_ratings` parses with a small C extension (several chunks in parallel, GIL released)
and falls back to a numpy parser when the extension is not built; the grammar and error rules are
in :mod:`llmrec.data._parse`. Parsed arrays are cached in binary form, so a second load
memory-maps them in well under a second.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from llmrec._paths import expand_path
from llmrec.data import _cache
from llmrec.data._encoding import decode_titles
from llmrec.data._parse import BOM, KIND_PROBE, KIND_QUALIFYING, KIND_RATINGS, read_records
from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import DataFormatError, DataNotFoundError

__all__ = [
    "ProbeSet",
    "QualifyingSet",
    "load_netflix",
    "load_probe",
    "load_qualifying",
    "load_ratings",
    "load_titles",
    "rating_files",
]

_log = logging.getLogger("llmrec.data.netflix")
PathArg = str | Path
_MAX_ID = 2_147_483_647


def _natural_key(path: Path) -> list[object]:
    """Sort key treating digit runs as numbers (``combined_data_10`` after ``_9``)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def rating_files(path: PathArg | Sequence[PathArg]) -> list[Path]:
    """The rating files ``path`` stands for, in load order.

    ``path`` is a list of files (kept in the given order), one file, or a folder: in the Kaggle
    layout (``combined_data_*.txt``), the original layout (``training_set/mv_*.txt``), or the
    ``training_set`` folder itself; files are ordered by the numbers in their names.
    """
    if not isinstance(path, str | Path):
        files = [expand_path(p) for p in path]
        for f in files:
            if not f.is_file():
                raise DataNotFoundError(f"no such rating file: {f}")
        return files
    root = expand_path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataNotFoundError(f"no such Netflix Prize file or folder: {root}")
    for folder, pattern in (
        (root, "combined_data_*.txt"),
        (root / "training_set", "mv_*.txt"),
        (root, "mv_*.txt"),
    ):
        if folder.is_dir():
            found = sorted((p for p in folder.glob(pattern) if p.is_file()), key=_natural_key)
            if found:
                return found
    raise DataFormatError(
        "no Netflix Prize rating files here: expected combined_data_*.txt (Kaggle layout) or "
        "training_set/mv_*.txt (original layout)",
        path=root,
    )


def _keep_mask(movies: Iterable[int]) -> npt.NDArray[np.uint8]:
    ids = np.fromiter((int(m) for m in movies), dtype=np.int64)
    if ids.size and (ids.min() < 1 or ids.max() > _MAX_ID):
        bad = int(ids[(ids < 1) | (ids > _MAX_ID)][0])
        raise ValueError(f"movie ids must be from 1 to {_MAX_ID:,}, got {bad}")
    keep = np.zeros(int(ids.max()) + 1 if ids.size else 1, dtype=np.uint8)
    keep[ids] = 1
    return keep


def load_ratings(
    path: PathArg | Sequence[PathArg],
    *,
    movies: Iterable[int] | None = None,
    cache: bool = True,
    cache_dir: PathArg | None = None,
    progress: bool = False,
    verify: _cache.Verify = "full",
) -> Ratings:
    """Load Netflix Prize ratings into a :class:`Ratings` table.

    ``path`` is a folder in the Kaggle or the original layout, one file, or a list of files
    (see :func:`rating_files`). Rows come in file order, then line order, exactly as written.
    ``movies`` keeps only those movie ids (the other lines are still checked). With ``cache``
    the parsed columns are stored under ``cache_dir`` (default: llmrec's cache folder,
    ``ratings/``), keyed by each file's path, size, modification and change times and inode
    and by ``movies``; a later load of unchanged files memory-maps them instead of parsing. A
    stale or damaged entry is rebuilt. ``verify="full"`` (the default) checks a 64-bit checksum of
    every column on each cached load, so flipped bits or swapped columns are caught (a few
    tenths of a second per 100 million ratings); ``verify="none"`` checks sizes and dtypes only.
    A cache folder that cannot be written (read-only, disk full) gives a warning, not an error.

    Raises :class:`DataFormatError` naming the file, the 1-based line and its text at the first
    line that breaks the format (see :mod:`llmrec.data._parse` for the grammar).
    """
    files = rating_files(path)
    _check_not_empty(files)
    movie_list = None if movies is None else sorted({int(m) for m in movies})
    keep = None if movie_list is None else _keep_mask(movie_list)
    identity = entry = None
    if cache:
        identity = _cache.source_identity(files, movie_list)
        entry = _cache.cache_entry(identity, cache_dir)
        cached = _cache.read_cache(entry, identity, verify=verify)
        if cached is not None:
            _log.info("rating cache hit: %s", entry)
            return cached
        _log.info("rating cache miss: parsing %d file(s) into %s", len(files), entry)
    rec = read_records(files, KIND_RATINGS, keep, progress=progress)
    if rec.rating is None or rec.date is None:  # pragma: no cover - always set for ratings
        raise TypeError("rating records without ratings or dates")
    ratings = Ratings(rec.user_id, rec.movie_id, rec.rating, rec.date)
    if movie_list is None and len(ratings) == 0:
        where = files[0] if len(files) == 1 else files[0].parent
        raise DataFormatError("no ratings: the files hold movie headers only", path=where)
    if identity is not None and entry is not None:
        if _cache.source_identity(files, movie_list) == identity:
            _cache.try_write_cache(entry, ratings, identity)
        else:
            _log.warning("rating files changed while being read; not caching %s", entry)
    return ratings


def _check_not_empty(files: Sequence[Path]) -> None:
    """An empty rating file is a mistake (a failed download or copy), not zero ratings."""
    for f in files:
        size = f.stat().st_size
        if size == 0 or (size == len(BOM) and f.read_bytes() == BOM):
            raise DataFormatError("empty rating file: it holds no movie or rating lines", path=f)


# -- titles --------------------------------------------------------------------------------------
def _titles_file(path: PathArg) -> Path:
    root = expand_path(path)
    if root.is_dir():
        for name in ("movie_titles.csv", "movie_titles.txt"):
            if (root / name).is_file():
                return root / name
        raise DataNotFoundError(f"no movie_titles.csv or movie_titles.txt in {root}")
    if not root.is_file():
        raise DataNotFoundError(f"no such titles file: {root}")
    return root


def _title_line(line: str) -> Movie | str:
    """The :class:`Movie` on one ``movie_titles`` line, or why the line is malformed."""
    parts = line.split(",", 2)
    if len(parts) < 3:
        return "expected MovieID,YearOfRelease,Title"
    ident, year, title = parts
    if not (ident.isascii() and ident.isdigit() and 1 <= int(ident) <= _MAX_ID):
        return f"movie id must be a whole number from 1 to {_MAX_ID:,}"
    if year != "NULL" and not (year.isascii() and year.isdigit() and len(year) == 4):
        return "year must be four digits or NULL"
    if not title.strip():
        return "empty title"
    return Movie(int(ident), title, None if year == "NULL" else int(year))


def load_titles(path: PathArg, *, encoding: str | None = None) -> Catalog:
    """Read ``movie_titles.csv`` (or ``.txt``; a folder holding one works too) into a Catalog.

    Each line is ``MovieID,YearOfRelease,Title`` with no header and no quoting: the title is
    everything after the second comma, so titles may contain commas. A year of ``NULL`` becomes
    ``None``. Titles may repeat under different ids. Malformed lines, blank lines, repeated ids
    and an empty file raise :class:`DataFormatError`.

    The original file is ISO-8859-1 (one title is "Café"), but copies re-saved as UTF-8 or
    cp1252 circulate. With ``encoding=None`` (the default) it is detected: a UTF-8 byte order
    mark or valid UTF-8 means ``"utf-8"``; otherwise bytes 0x80-0x9F (curly quotes, dashes)
    mean ``"cp1252"``; otherwise ``"iso-8859-1"``. The encoding used is kept in
    :attr:`Catalog.encoding` and logged (logger ``llmrec.data.netflix``, INFO).
    """
    file = _titles_file(path)
    text_lines, used = decode_titles(file, file.read_bytes(), encoding)
    if not text_lines:
        raise DataFormatError("empty titles file: it holds no movies", path=file)
    _log.info("read %s as %s", file, used)
    movies: list[Movie] = []
    seen: dict[int, int] = {}
    for number, line in enumerate(text_lines, start=1):
        found = _title_line(line)
        if isinstance(found, Movie) and found.movie_id in seen:
            found = f"movie id {found.movie_id} already given on line {seen[found.movie_id]}"
        if isinstance(found, str):
            raise DataFormatError(found, path=file, line=number, text=line)
        seen[found.movie_id] = number
        movies.append(found)
    return Catalog(movies, encoding=used)


def load_netflix(
    path: PathArg,
    *,
    titles: PathArg | None = None,
    cache: bool = True,
    cache_dir: PathArg | None = None,
    progress: bool = False,
) -> tuple[Ratings, Catalog]:
    """The ratings and the titles of a Netflix Prize folder (or of the files given).

    ``titles`` defaults to ``movie_titles.csv`` beside the ratings. A missing folder is reported
    as such (not as missing titles), before anything is parsed.
    """
    files = rating_files(path)
    if titles is None:
        root = expand_path(path) if isinstance(path, str | Path) else files[0]
        folder = root if root.is_dir() else root.parent
        for name in ("movie_titles.csv", "movie_titles.txt"):
            if (folder / name).is_file():
                titles = folder / name
                break
        else:
            raise DataNotFoundError(
                f"no movie_titles.csv beside the ratings in {folder}; give the titles file "
                "(titles=... in Python, data.titles in a config)"
            )
    catalog = load_titles(titles)
    ratings = load_ratings(files, cache=cache, cache_dir=cache_dir, progress=progress)
    return ratings, catalog


# -- probe and qualifying ------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeSet:
    """The probe set: (movie, customer) pairs whose ratings are in the training data.

    ``movie_id`` and ``user_id`` are aligned int32 arrays in file order.
    """

    movie_id: npt.NDArray[np.int32]
    user_id: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.movie_id.shape[0])


@dataclass(frozen=True)
class QualifyingSet:
    """The qualifying set: (movie, customer, date) triples whose ratings were withheld.

    ``movie_id``, ``user_id`` (int32) and ``date`` (datetime64[D]) are aligned, in file order.
    """

    movie_id: npt.NDArray[np.int32]
    user_id: npt.NDArray[np.int32]
    date: npt.NDArray[np.datetime64]

    def __len__(self) -> int:
        return int(self.movie_id.shape[0])


def _single_file(path: PathArg, name: str) -> Path:
    root = expand_path(path)
    file = root / name if root.is_dir() else root
    if not file.is_file():
        raise DataNotFoundError(f"no such file: {file}")
    return file


def load_probe(path: PathArg) -> ProbeSet:
    """Read ``probe.txt`` (or a folder holding it): ``N:`` headers, then ``CustomerID`` lines."""
    rec = read_records([_single_file(path, "probe.txt")], KIND_PROBE)
    return ProbeSet(rec.movie_id, rec.user_id)


def load_qualifying(path: PathArg) -> QualifyingSet:
    """Read ``qualifying.txt`` (or a folder holding it): ``N:``, then ``CustomerID,Date``."""
    rec = read_records([_single_file(path, "qualifying.txt")], KIND_QUALIFYING)
    if rec.date is None:  # pragma: no cover - read_records always returns dates for this kind
        raise TypeError("qualifying records without dates")
    return QualifyingSet(rec.movie_id, rec.user_id, rec.date)
