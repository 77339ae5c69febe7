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
* ``.item`` gives titles (``movie_title`` or ``title``) and years (``release_year`` or ``year``,
  when four digits). Items with no title (no ``.item`` file, no row, or an empty title) keep
  their source id as their title; they are counted (``untitled_items``).
* Rows keep the file's order; repeated (user, item) rows are kept, as RecBole keeps them.
  Blank lines are skipped (as RecBole's reader does) and counted.

Every malformed line stops the load with :class:`~llmrec.errors.DataFormatError` naming the
file, the 1-based line, the 1-based column with its typed name, and the value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from llmrec._io import atomic_open
from llmrec._paths import expand_path
from llmrec.data._stars import HalfStars, to_stars
from llmrec.data.catalog import Catalog, Movie
from llmrec.data.loaded import LoadedData
from llmrec.data.ratings import Ratings
from llmrec.data.source_ids import encode_ids
from llmrec.errors import ConfigError, DataFormatError, DataNotFoundError

__all__ = ["load_atomic", "read_atomic", "write_atomic"]

_log = logging.getLogger("llmrec.data.recbole")
_TYPES = ("token", "float", "token_seq", "float_seq")
_TITLE_FIELDS = ("movie_title", "title")
_YEAR_FIELDS = ("release_year", "year")
PathArg = str | Path


@dataclass(frozen=True)
class _Table:
    """One atomic file: its typed header and its columns as text, with each row's line."""

    path: Path
    fields: list[tuple[str, str]]
    columns: dict[str, list[str]]
    lines: npt.NDArray[np.int64]
    blank_lines: int

    def __len__(self) -> int:
        return int(self.lines.size)

    def position(self, name: str) -> int:
        return [f for f, _ in self.fields].index(name)

    def error(self, name: str, row: int, message: str) -> DataFormatError:
        k = self.position(name)
        typ = self.fields[k][1]
        return DataFormatError(
            f"column {k + 1} ({name}:{typ}): {message}",
            path=self.path,
            line=int(self.lines[row]),
            text=self.columns[name][row],
        )

    def need(self, name: str, types: Sequence[str], what: str) -> None:
        found = dict(self.fields)
        if name not in found:
            have = "\t".join(f"{f}:{t}" for f, t in self.fields)
            raise DataFormatError(
                f"no {name!r} column for the {what} (the header has {have})", path=self.path, line=1
            )
        if found[name] not in types:
            k = self.position(name)
            raise DataFormatError(
                f"column {k + 1} ({name}) must be of type {' or '.join(types)}, "
                f"not {found[name]!r}",
                path=self.path,
                line=1,
                text=f"{name}:{found[name]}",
            )


def _header(path: Path, line: str) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for k, cell in enumerate(line.split("\t"), start=1):
        name, colon, typ = cell.rpartition(":")
        if not colon or not name:
            raise DataFormatError(
                f"column {k}: a header cell must be name:type", path=path, line=1, text=cell
            )
        if typ not in _TYPES:
            raise DataFormatError(
                f"column {k} ({name}): type must be one of {', '.join(_TYPES)}",
                path=path,
                line=1,
                text=cell,
            )
        if name in dict(fields):
            raise DataFormatError(f"column {k}: {name!r} repeats", path=path, line=1, text=cell)
        fields.append((name, typ))
    return fields


def _read_table(path: Path, encoding: str) -> _Table:
    """Read one atomic file into text columns, checking that every line has every field."""
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(f"not {encoding} text: {exc.reason}", path=path, line=line) from None
    rows = text.removeprefix("\ufeff").split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    if not rows:
        raise DataFormatError("empty file: expected a typed header line", path=path)
    fields = _header(path, rows[0].rstrip("\r"))
    width = len(fields)
    cells: list[list[str]] = []
    lines: list[int] = []
    blank = 0
    for no, raw in enumerate(rows[1:], start=2):
        row = raw[:-1] if raw.endswith("\r") else raw
        if not row:
            blank += 1
            continue
        parts = row.split("\t")
        if len(parts) != width:
            raise DataFormatError(
                f"expected {width} tab-separated fields as in the header, got {len(parts)}",
                path=path,
                line=no,
                text=row,
            )
        cells.append(parts)
        lines.append(no)
    columns: dict[str, list[str]] = {name: [] for name, _ in fields}
    if cells:
        transposed = zip(*cells, strict=True)
        columns = {name: list(col) for (name, _), col in zip(fields, transposed, strict=True)}
    return _Table(path, fields, columns, np.array(lines, dtype=np.int64), blank)


def _floats(table: _Table, name: str) -> npt.NDArray[np.float64]:
    col = table.columns[name]
    try:
        values = np.array(col, dtype=np.float64)
    except ValueError:
        values = np.empty(len(col))
        for i, cell in enumerate(col):
            try:
                values[i] = float(cell)
            except ValueError:
                raise table.error(name, i, "not a number") from None
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise table.error(name, int(bad[0]), "must be a finite number")
    return values


def _tokens(table: _Table, name: str) -> list[str]:
    col = table.columns[name]
    for i, cell in enumerate(col):
        if not cell.strip():
            raise table.error(name, i, "empty id")
    return col


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


def _catalog(
    item_tokens: list[str], item_table: _Table | None, ids: npt.NDArray[np.int32]
) -> tuple[list[Movie], int]:
    """Movies for every item id (``ids[i]`` is the id of ``item_tokens[i]``), and the untitled."""
    titles: dict[int, tuple[str, int | None]] = {}
    n_inter = len(item_tokens) - (0 if item_table is None else len(item_table))
    if item_table is not None:
        title_field = next((f for f in _TITLE_FIELDS if f in item_table.columns), None)
        year_field = next((f for f in _YEAR_FIELDS if f in item_table.columns), None)
        seen: dict[int, int] = {}
        for row in range(len(item_table)):
            movie_id = int(ids[n_inter + row])
            if movie_id in seen:
                raise item_table.error(
                    "item_id", row, f"item repeats line {seen[movie_id]} of this file"
                )
            seen[movie_id] = int(item_table.lines[row])
            title = (
                ""
                if title_field is None
                else " ".join(item_table.columns[title_field][row].split())
            )
            year_text = "" if year_field is None else item_table.columns[year_field][row].strip()
            year = int(year_text) if len(year_text) == 4 and year_text.isdigit() else None
            if title:
                titles[movie_id] = (title, year)
    movies: list[Movie] = []
    untitled = 0
    first: dict[int, str] = {}
    for token, movie_id in zip(item_tokens, ids.tolist(), strict=True):
        first.setdefault(movie_id, token)
    for movie_id, token in first.items():
        if movie_id in titles:
            movies.append(Movie(movie_id, *titles[movie_id]))
        else:
            movies.append(Movie(movie_id, token, None))
            untitled += 1
    return movies, untitled


def read_atomic(
    folder: PathArg,
    dataset: str | None = None,
    *,
    implicit_rating: int | None = None,
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
    inter = _read_table(root / f"{name}.inter", encoding)
    inter.need("user_id", ("token",), "users")
    inter.need("item_id", ("token",), "items")
    has_rating = "rating" in inter.columns
    if has_rating and implicit_rating is not None:
        raise ConfigError(
            f"{inter.path} has a rating column; implicit_rating applies only to files without one"
        )
    if not has_rating and implicit_rating is None:
        raise DataFormatError(
            "no rating:float column (implicit feedback): pass implicit_rating=N (1-5) to give "
            "every interaction N stars",
            path=inter.path,
            line=1,
        )
    if has_rating:
        inter.need("rating", ("float",), "ratings")
        stars, ok = to_stars(_floats(inter, "rating"), half_stars)
        if not ok.all():
            raise inter.error(
                "rating", int(np.argmin(ok)), "rating must be 1-5 stars, or 0.5-5.0 in half stars"
            )
    else:
        stars = np.full(len(inter), implicit_rating, dtype=np.int8)
    if time_field is not None:
        inter.need(time_field, ("float",), "times (pass time_field=None for data without time)")
        seconds = np.floor(_floats(inter, time_field)).astype(np.int64)
        time: npt.NDArray[np.datetime64] | None = seconds.astype("datetime64[s]")
        date = (seconds // 86_400).astype("datetime64[D]")
    else:
        time = None
        date = np.zeros(len(inter), dtype="datetime64[D]")
    item_path = root / f"{name}.item"
    item_table = _read_table(item_path, encoding) if item_path.is_file() else None
    if item_table is not None:
        item_table.need("item_id", ("token",), "items")
    user_path = root / f"{name}.user"
    user_rows = 0
    if user_path.is_file():
        user_table = _read_table(user_path, encoding)
        user_table.need("user_id", ("token",), "users")
        _tokens(user_table, "user_id")
        user_rows = len(user_table)
    user_ids, user_map = encode_ids(_tokens(inter, "user_id"))
    item_tokens = _tokens(inter, "item_id") + (
        [] if item_table is None else _tokens(item_table, "item_id")
    )
    item_ids, item_map = encode_ids(item_tokens)
    movies, untitled = _catalog(item_tokens, item_table, item_ids)
    ratings = Ratings(
        user_ids,
        item_ids[: len(inter)],
        stars,
        date,
        time=time,
        user_source_ids=user_map,
        movie_source_ids=item_map,
    )
    catalog = Catalog(movies, encoding=encoding, source_ids=item_map)
    counts = {
        "lines": len(inter),
        "blank_lines": inter.blank_lines,
        "users": ratings.n_users,
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
    time_field: str | None = "timestamp",
    half_stars: HalfStars = "up",
    encoding: str = "utf-8",
) -> tuple[Ratings, Catalog]:
    """Read RecBole atomic files ``folder/NAME.inter`` (+ ``NAME.item``, ``NAME.user``).

    ``dataset`` is ``NAME``; by default the folder's name, or the one ``.inter`` file in it.
    See the module documentation for the rules; :func:`read_atomic` also returns the counts.
    """
    loaded = read_atomic(
        folder,
        dataset,
        implicit_rating=implicit_rating,
        time_field=time_field,
        half_stars=half_stars,
        encoding=encoding,
    )
    return loaded.ratings, loaded.catalog


def _checked(tokens: list[str], what: str) -> list[str]:
    for token in tokens:
        if not token or any(c in token for c in "\t\r\n"):
            raise ValueError(f"{what} {token!r} cannot be written to an atomic file")
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
            title = " ".join(movie.title.split())
            _checked([token], "item id")
            year = "" if movie.year is None else str(movie.year)
            fh.write(f"{token}\t{title}\t{year}\n")
    return out
