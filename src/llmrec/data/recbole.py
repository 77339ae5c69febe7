"""RecBole's atomic files (``NAME.inter``, ``NAME.item``, ``NAME.user``) in and out.

RecBole (https://recbole.io/docs/user_guide/data/atomic_files.html) keeps a data set as
tab-separated files whose first line types every column, ``name:type`` with type one of
``token``, ``float``, ``token_seq`` (space-separated tokens) or ``float_seq``::

    user_id:token   item_id:token   rating:float    timestamp:float
    196             242             3               881250949

    item_id:token   movie_title:token_seq   release_year:token  class:token_seq
    1               Toy Story               1995                Animation Children's Comedy

Reading (:func:`load_atomic`):

* ``user_id`` and ``item_id`` are tokens; ids that are canonical decimal integers in every row
  keep their values (RecBole's ml-100k gives the same ids as MovieLens' ``u.data``); otherwise
  they become dense ids ``1..n`` in order of first appearance (``.inter`` rows first, then
  ``.item`` rows) and the tokens are kept (:attr:`Ratings.user_source_ids`,
  :attr:`Catalog.source_ids`).
* ``rating:float`` becomes 1-5 stars (half stars rounded by ``half_stars``). A file with no
  rating column is implicit feedback: pass ``implicit_rating=N`` to give every interaction N
  stars; without it the load stops, so the choice is never made silently.
* ``timestamp:float`` (Unix seconds) becomes :attr:`Ratings.time`, to the second (fractions
  dropped), and ``date`` its UTC day. A file without one needs ``time_field=None``: then
  ``time`` is ``None``, every date is 1970-01-01 and histories follow the file's row order.
* ``.item`` gives titles (``movie_title`` or ``title``, as written, outer spaces stripped) and
  years (``release_year`` or ``year``, when four digits). Items with no title (no ``.item``
  file, no row, or an empty title) keep their source id as their title; they are counted
  (``untitled_items``).
* Rows keep the file's order; repeated (user, item) rows are kept, as RecBole keeps them.
  Blank lines are skipped (as RecBole's reader does) and counted.

Every malformed line stops the load with :class:`~llmrec.errors.DataFormatError` naming the
file, the 1-based line, the 1-based column with its typed name, and the value.
"""

from __future__ import annotations

import logging
from array import array
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from llmrec._io import atomic_open
from llmrec._paths import expand_path
from llmrec.data._atomic_read import AtomicFile, Tokens, number, token
from llmrec.data._stars import HalfStars, to_stars
from llmrec.data.catalog import Catalog, Movie
from llmrec.data.loaded import LoadedData
from llmrec.data.ratings import Ratings
from llmrec.data.source_ids import ids_from_codes
from llmrec.errors import ConfigError, DataFormatError, DataNotFoundError

__all__ = ["load_atomic", "read_atomic", "write_atomic"]

_log = logging.getLogger("llmrec.data.recbole")
_TITLE_FIELDS = ("movie_title", "title")
_YEAR_FIELDS = ("release_year", "year")
PathArg = str | Path


def _files(folder: PathArg, dataset: str | None) -> tuple[Path, str]:
    root = expand_path(folder)
    if not root.is_dir():
        raise DataNotFoundError(f"no such RecBole data folder: {root}")
    if dataset is None:
        if (root / f"{root.name}.inter").is_file():
            return root, root.name
        found = sorted(p.stem for p in root.glob("*.inter") if p.is_file())
        if len(found) != 1:
            listed = f": found {', '.join(found)}; pass dataset=" if found else ""
            raise DataFormatError(
                f"expected one NAME.inter file (RecBole atomic files){listed}", path=root
            )
        return root, found[0]
    if not (root / f"{dataset}.inter").is_file():
        raise DataNotFoundError(f"{root / (dataset + '.inter')} not found")
    return root, dataset


class _Fields(NamedTuple):
    """The column names RecBole's config calls USER_ID_FIELD, ITEM_ID_FIELD, RATING_FIELD and
    TIME_FIELD."""

    user: str
    item: str
    rating: str
    time: str | None


def _read_inter(
    path: Path,
    encoding: str,
    users: Tokens,
    items: Tokens,
    fields: _Fields,
    implicit_rating: int | None,
) -> tuple[AtomicFile, dict[str, Any]]:
    """The ``.inter`` file's user and item codes, ratings (or ``None``) and times (or ``None``)."""
    inter = AtomicFile(path, encoding)
    head = inter.header
    uf, itf, rf, time_field = fields
    pu = head.need(uf, ("token",), "users")
    pi = head.need(itf, ("token",), "items")
    has_rating = head.has(rf)
    if has_rating and implicit_rating is not None:
        raise ConfigError(
            f"{path} has a rating column; implicit_rating applies only to files without one"
        )
    if not has_rating and implicit_rating is None:
        raise DataFormatError(
            f"no {rf}:float column (implicit feedback): pass implicit_rating=N (1-5) to give "
            "every interaction N stars",
            path=path,
            line=1,
        )
    pr = head.need(rf, ("float",), "ratings") if has_rating else -1
    pt = (
        head.need(time_field, ("float",), "times (pass time_field=None for data without time)")
        if time_field is not None
        else -1
    )
    user, item = array("i"), array("i")
    rating, stamp = array("d"), array("d")
    for no, parts in inter.rows():
        user.append(token(users, head, uf, no, parts[pu]))
        item.append(token(items, head, itf, no, parts[pi]))
        if pr >= 0:
            number(head, rf, no, parts[pr], rating)
        if pt >= 0 and time_field is not None:
            number(head, time_field, no, parts[pt], stamp)
    columns: dict[str, Any] = {
        "user": _ints(user),
        "item": _ints(item),
        "rating": _floats(rating) if pr >= 0 else None,
        "time": _floats(stamp) if pt >= 0 else None,
    }
    return inter, columns


def _ints(values: array[int]) -> npt.NDArray[np.int32]:
    return np.frombuffer(values, dtype=np.int32) if len(values) else np.zeros(0, np.int32)


def _floats(values: array[float]) -> npt.NDArray[np.float64]:
    return np.frombuffer(values, dtype=np.float64) if len(values) else np.zeros(0)


def _read_items(
    path: Path, encoding: str, items: Tokens, item_field: str
) -> tuple[dict[int, tuple[str, int | None]], int]:
    """Titles and years by item code from ``.item``; a repeated item is an error."""
    table = AtomicFile(path, encoding)
    head = table.header
    pi = head.need(item_field, ("token",), "items")
    title_field = next((f for f in _TITLE_FIELDS if head.has(f)), None)
    year_field = next((f for f in _YEAR_FIELDS if head.has(f)), None)
    pt = -1 if title_field is None else head.position(title_field)
    py = -1 if year_field is None else head.position(year_field)
    seen: dict[int, int] = {}
    titles: dict[int, tuple[str, int | None]] = {}
    for no, parts in table.rows():
        code = token(items, head, item_field, no, parts[pi])
        if code in seen:
            raise head.error(
                item_field, no, f"item repeats line {seen[code]} of this file", parts[pi]
            )
        seen[code] = no
        title = parts[pt].strip() if pt >= 0 else ""
        year_text = parts[py].strip() if py >= 0 else ""
        year = int(year_text) if len(year_text) == 4 and year_text.isdigit() else None
        if title:
            titles[code] = (title, year)
    return titles, table.n_rows


def _count_users(path: Path, encoding: str, user_field: str) -> int:
    """Check ``.user`` (typed header, a non-empty ``user_id`` on every row); its row count."""
    table = AtomicFile(path, encoding)
    pu = table.header.need(user_field, ("token",), "users")
    scratch = Tokens()
    for no, parts in table.rows():
        token(scratch, table.header, user_field, no, parts[pu])
    return table.n_rows


def read_atomic(
    folder: PathArg,
    dataset: str | None = None,
    *,
    implicit_rating: int | None = None,
    user_field: str = "user_id",
    item_field: str = "item_id",
    rating_field: str = "rating",
    time_field: str | None = "timestamp",
    half_stars: HalfStars = "up",
    encoding: str = "utf-8",
) -> LoadedData:
    """:func:`load_atomic`, returning a :class:`LoadedData` with the counts of what was read.

    ``counts``: ``lines`` (interactions), ``blank_lines``, ``users``, ``items`` (catalog
    entries), ``untitled_items``, and ``user_file_rows`` (rows of ``NAME.user``, ``0`` if none).
    """
    if implicit_rating is not None and not (
        isinstance(implicit_rating, int) and 1 <= implicit_rating <= 5
    ):
        raise ConfigError(
            f"implicit_rating must be a whole number of stars 1-5, got {implicit_rating!r}"
        )
    root, name = _files(folder, dataset)
    users, items = Tokens(), Tokens()
    fields = _Fields(user_field, item_field, rating_field, time_field)
    inter, cols = _read_inter(
        root / f"{name}.inter", encoding, users, items, fields, implicit_rating
    )
    n = inter.n_rows
    if cols["rating"] is not None:
        stars, ok = to_stars(cols["rating"], half_stars)
        if not ok.all():
            line = inter.line_of(int(np.argmin(ok)))
            raise inter.header.error(
                rating_field,
                line,
                "rating must be 1-5 stars, or 0.5-5.0 in half stars",
                inter.cell(line, rating_field),
            )
    else:
        stars = np.full(n, implicit_rating, dtype=np.int8)
    time: npt.NDArray[np.datetime64] | None = None
    if cols["time"] is not None and time_field is not None:
        bad = np.flatnonzero(~np.isfinite(cols["time"]))
        if bad.size:
            line = inter.line_of(int(bad[0]))
            raise inter.header.error(
                time_field, line, "must be a finite number", inter.cell(line, time_field)
            )
        seconds = np.floor(cols["time"]).astype(np.int64)
        time = seconds.astype("datetime64[s]")
        date = (seconds // 86_400).astype("datetime64[D]")
    else:
        date = np.zeros(n, dtype="datetime64[D]")
    item_path, user_path = root / f"{name}.item", root / f"{name}.user"
    titles, _ = (
        _read_items(item_path, encoding, items, item_field) if item_path.is_file() else ({}, 0)
    )
    user_rows = _count_users(user_path, encoding, user_field) if user_path.is_file() else 0
    user_ids, user_map = ids_from_codes(cols["user"], list(users.index))
    tokens = list(items.index)
    by_code, item_map = ids_from_codes(np.arange(1, len(tokens) + 1, dtype=np.int32), tokens)
    ratings = Ratings(
        user_ids,
        by_code[cols["item"] - 1],
        stars,
        date,
        time=time,
        user_source_ids=user_map,
        movie_source_ids=item_map,
    )
    movies = [
        Movie(movie_id, *titles.get(code, (text, None)))
        for code, (movie_id, text) in enumerate(zip(by_code.tolist(), tokens, strict=True), 1)
    ]
    catalog = Catalog(movies, encoding=encoding, source_ids=item_map)
    untitled = len(tokens) - len(titles)
    counts = {
        "lines": n,
        "blank_lines": inter.blank_lines,
        "users": len(users.index),
        "items": len(catalog),
        "untitled_items": untitled,
        "user_file_rows": user_rows,
    }
    if untitled:
        _log.warning("%s: %d items have no title and keep their id as label", root, untitled)
    return LoadedData(ratings, catalog, inter.path, counts)


def load_atomic(
    folder: PathArg,
    dataset: str | None = None,
    *,
    implicit_rating: int | None = None,
    user_field: str = "user_id",
    item_field: str = "item_id",
    rating_field: str = "rating",
    time_field: str | None = "timestamp",
    half_stars: HalfStars = "up",
    encoding: str = "utf-8",
) -> tuple[Ratings, Catalog]:
    """Read RecBole atomic files ``folder/NAME.inter`` (+ ``NAME.item``, ``NAME.user``).

    ``dataset`` is ``NAME``; by default the folder's name, or the one ``.inter`` file in it.
    ``user_field``, ``item_field``, ``rating_field`` and ``time_field`` name the columns, as
    RecBole's ``USER_ID_FIELD``, ``ITEM_ID_FIELD``, ``RATING_FIELD`` and ``TIME_FIELD`` do.
    See the module documentation for the rules; :func:`read_atomic` also returns the counts.
    """
    loaded = read_atomic(
        folder,
        dataset,
        implicit_rating=implicit_rating,
        user_field=user_field,
        item_field=item_field,
        rating_field=rating_field,
        time_field=time_field,
        half_stars=half_stars,
        encoding=encoding,
    )
    return loaded.ratings, loaded.catalog


def _checked(tokens: list[str], what: str) -> list[str]:
    for text in tokens:
        if not text or any(c in text for c in "\t\r\n"):
            raise ValueError(f"{what} {text!r} cannot be written to an atomic file")
    return tokens


def write_atomic(folder: PathArg, ratings: Ratings, catalog: Catalog, dataset: str) -> Path:
    """Write ``folder/DATASET.inter`` and ``DATASET.item`` in RecBole's atomic format.

    Ids are written as the source's ids (:meth:`Ratings.source_user`, :meth:`Catalog.source_id`),
    ratings as whole stars, ``timestamp`` as Unix seconds (``time``, or midnight UTC of
    ``date`` when the table has no time), titles as ``movie_title:token_seq`` and years as
    ``release_year:token``. Rows keep the table's order; files are written atomically. Reading
    the folder back with :func:`load_atomic` gives the same ratings and catalog when the table
    has a time column (without one, the dates come back as times at midnight).
    """
    out = expand_path(folder)
    out.mkdir(parents=True, exist_ok=True)
    users = (
        [str(u) for u in ratings.user_id.tolist()]
        if ratings.user_source_ids is None
        else ratings.user_source_ids.tokens(ratings.user_id)
    )
    movie_map = ratings.movie_source_ids or catalog.source_ids
    items = (
        [str(m) for m in ratings.movie_id.tolist()]
        if movie_map is None
        else movie_map.tokens(ratings.movie_id)
    )
    if ratings.time is not None:
        stamps = ratings.time.astype(np.int64)
    else:
        stamps = ratings.date.astype("datetime64[s]").astype(np.int64)
    _checked(users, "user id")
    _checked(items, "item id")
    with atomic_open(out / f"{dataset}.inter") as fh:
        fh.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        for row in zip(users, items, ratings.rating.tolist(), stamps.tolist(), strict=True):
            fh.write("{}\t{}\t{}\t{}\n".format(*row))
    with atomic_open(out / f"{dataset}.item") as fh:
        fh.write("item_id:token\tmovie_title:token_seq\trelease_year:token\n")
        for movie in catalog:
            token = catalog.source_id(movie.movie_id)
            title = movie.title.strip()
            if any(c in title for c in "\t\r\n"):
                raise ValueError(
                    f"the title of movie {movie.movie_id} ({title!r}) holds a tab or a line break, "
                    "which an atomic file cannot hold"
                )
            _checked([token], "item id")
            year = "" if movie.year is None else str(movie.year)
            fh.write(f"{token}\t{title}\t{year}\n")
    return out
