"""Amazon product reviews (the 2018 and 2023 releases) into :class:`Ratings` and a :class:`Catalog`.

Both releases are JSON lines, one review per line, often gzipped. The release is recognised
from the first review's fields (and gzip from the file's first two bytes, whatever its name):

=======  ================================================  ==================================
release  review fields read                                metadata fields read
=======  ================================================  ==================================
2018     ``reviewerID``, ``asin``, ``overall`` (1-5),      ``asin``, ``title``
(2014)   ``unixReviewTime`` (seconds)                      (https://nijianmo.github.io/amazon/)
2023     ``user_id``, ``parent_asin``, ``rating`` (1-5),   ``parent_asin``, ``title``
         ``timestamp`` (milliseconds)                      (https://amazon-reviews-2023.github.io/)
=======  ================================================  ==================================

Decisions (each counted in :attr:`LoadedData.counts` and logged):

* **Ids.** Reviewer ids and ASINs are strings: they become dense ids ``1..n`` in order of first
  appearance in the reviews file, kept in :attr:`Ratings.user_source_ids` and
  :attr:`Ratings.movie_source_ids` (the catalog shares the item map).
* **Time.** ``time`` is the review time to the second (2023's milliseconds are floored), and
  ``date`` its UTC day.
* **Repeated reviews.** When a user reviewed the same item more than once, the latest review
  is kept (by the full timestamp; at equal times the one later in the file), in its own place
  in the file's order; ``duplicates_dropped`` counts the others.
* **Titles.** Only reviewed items enter the catalog. An item with no metadata line, or whose
  ``title`` is missing or blank, keeps its ASIN as its title (``untitled_items``); metadata of
  items nobody reviewed is skipped (``meta_unreviewed``); a repeated metadata line (the 2018
  files have some) keeps the first title (``meta_repeated``). Years are not read (``None``).

The files are streamed line by line with the standard ``json`` module, so memory holds four
compact arrays and one dictionary per id kind, never the JSON: a category of tens of millions
of reviews fits. A line that is not JSON, lacks a field or has a value of the wrong type stops
the load with :class:`~llmrec.errors.DataFormatError` naming the file, the line and the field.
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import logging
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import numpy.typing as npt

from llmrec._paths import expand_path
from llmrec._progress import progress_bar
from llmrec.data._stars import HalfStars, to_stars
from llmrec.data.catalog import Catalog, Movie
from llmrec.data.loaded import LoadedData
from llmrec.data.ratings import Ratings
from llmrec.data.source_ids import ids_from_codes
from llmrec.errors import DataFormatError, DataNotFoundError

__all__ = ["RELEASES", "Release", "load_reviews", "read_reviews"]

_log = logging.getLogger("llmrec.data.amazon")
PathArg = str | Path


@dataclass(frozen=True)
class Release:
    """The field names of one release, and how many time units make a second."""

    name: str
    user: str
    item: str
    rating: str
    time: str
    per_second: int
    meta_item: str

    def fields(self) -> tuple[str, str, str, str]:
        return (self.user, self.item, self.rating, self.time)


RELEASES = (
    Release("2023", "user_id", "parent_asin", "rating", "timestamp", 1000, "parent_asin"),
    Release("2018", "reviewerID", "asin", "overall", "unixReviewTime", 1, "asin"),
)
"""The releases :func:`load_reviews` recognises, tried in this order."""


@contextmanager
def _open(path: Path) -> Iterator[IO[str]]:
    """The file as UTF-8 text lines, decompressed when it starts with gzip's magic number."""
    if not path.is_file():
        raise DataNotFoundError(f"no such file: {path}")
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    raw = cast(IO[bytes], gzip.open(path, "rb") if gz else open(path, "rb"))  # noqa: SIM115
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig") as fh:
        yield fh


def _bad_text(path: Path, exc: UnicodeDecodeError) -> DataFormatError:
    """The line holding the first byte that is not UTF-8 (found by reading the bytes again)."""
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    with cast(IO[bytes], gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
        for no, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                return DataFormatError(f"not UTF-8 text: {bad.reason}", path=path, line=no)
    return DataFormatError(f"not UTF-8 text: {exc.reason}", path=path)


def _shown(line: str) -> str:
    text = line.rstrip("\r\n")
    return text if len(text) <= 200 else text[:200] + "..."


def _record(path: Path, no: int, line: str, *, literal: bool = False) -> dict[str, Any]:
    """The object on one line; with ``literal``, a Python dict literal is accepted too."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError) as exc:
        rec = _literal(line) if literal else None
        if rec is None:
            raise DataFormatError(
                f"not JSON: {exc}", path=path, line=no, text=_shown(line)
            ) from None
    if not isinstance(rec, dict):
        raise DataFormatError("expected a JSON object", path=path, line=no, text=_shown(line))
    return rec


def _literal(line: str) -> Any:
    """The 2014 release's metadata lines are Python literals (``{'asin': '...'}``), not JSON."""
    try:
        text = line.strip()
        return ast.literal_eval(text) if text.startswith("{'") else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _objects(path: Path, *, literal: bool = False) -> Iterator[tuple[int, Any, str]]:
    """``(line, object, text)`` for every non-blank line (``object`` is ``None`` for a blank one).

    The common case, one JSON object filling the line, is decoded by ``raw_decode`` of the
    standard ``json`` module on text decoded a block at a time (no per-line encoding detection
    as ``json.loads`` of bytes does); anything else takes :func:`_record`'s slow path, which
    also words the error.
    """
    decode = json.JSONDecoder().raw_decode
    try:
        with _open(path) as fh:
            for no, line in enumerate(fh, start=1):
                try:
                    rec, end = decode(line)
                    if end < len(line) - 1 and not line[end:].isspace():
                        raise ValueError("extra data")
                except (ValueError, RecursionError):
                    if not line.strip():
                        yield no, None, line
                        continue
                    rec = _record(path, no, line, literal=literal)
                yield no, rec, line
    except UnicodeDecodeError as exc:
        raise _bad_text(path, exc) from None


def _detect(path: Path, no: int, rec: dict[str, Any]) -> Release:
    for release in RELEASES:
        if all(f in rec for f in release.fields()):
            return release
    wanted = "; ".join(f"{r.name}: {', '.join(r.fields())}" for r in RELEASES)
    raise DataFormatError(
        f"not an Amazon reviews file: the first review lacks the fields of every release "
        f"({wanted}); it has {', '.join(sorted(rec)) or 'none'}",
        path=path,
        line=no,
    )


def _diagnose(path: Path, no: int, line: str, release: Release) -> DataFormatError:
    """Why line ``no`` could not be read as a review of ``release``."""
    rec = _record(path, no, line)
    for field in release.fields():
        if field not in rec:
            return DataFormatError(
                f"missing field {field!r} (the {release.name} release's reviews have "
                f"{', '.join(release.fields())})",
                path=path,
                line=no,
                text=_shown(line),
            )
    checks = (
        (release.user, str, "a string"),
        (release.item, str, "a string"),
        (release.rating, (int, float), "a number"),
        (release.time, int, "a whole number"),
    )
    for field, kind, what in checks:
        value = rec[field]
        if not isinstance(value, kind) or isinstance(value, bool) or value == "":
            return DataFormatError(
                f"field {field!r} must be {what}", path=path, line=no, text=repr(value)
            )
    return DataFormatError("unreadable review", path=path, line=no, text=_shown(line))


@dataclass
class _Columns:
    users: dict[str, int]
    items: dict[str, int]
    user: array[int]
    item: array[int]
    rating: array[float]
    stamp: array[int]
    blank_lines: list[int]

    def line_of(self, row: int) -> int:
        """The 1-based line of review ``row`` (blank lines skipped)."""
        line = row + 1
        for blank in self.blank_lines:
            if blank <= line:
                line += 1
        return line


def _read(path: Path, progress: bool) -> tuple[_Columns, Release]:
    cols = _Columns({}, {}, array("i"), array("i"), array("d"), array("q"), [])
    users, items = cols.users, cols.items
    add_user, add_item = cols.user.append, cols.item.append
    add_rating, add_stamp = cols.rating.append, cols.stamp.append
    release: Release | None = None
    uf = itf = rf = tf = ""
    bar = progress_bar(enabled=progress, desc=f"reading {path.name}")
    with bar:
        for no, rec, line in _objects(path):
            if rec is None:
                cols.blank_lines.append(no)
                continue
            if release is None:
                if not isinstance(rec, dict):
                    _record(path, no, line)  # raises: not an object
                release = _detect(path, no, rec)
                uf, itf, rf, tf = release.fields()
            try:
                key = rec[uf]
                code = users.get(key)
                if code is None:
                    if type(key) is not str or not key:
                        raise TypeError
                    code = users[key] = len(users) + 1
                add_user(code)
                key = rec[itf]
                code = items.get(key)
                if code is None:
                    if type(key) is not str or not key:
                        raise TypeError
                    code = items[key] = len(items) + 1
                add_item(code)
                value = rec[rf]
                if type(value) is bool:
                    raise TypeError
                add_rating(value)
                stamp = rec[tf]
                if type(stamp) is not int:
                    raise TypeError
                add_stamp(stamp)
            except Exception:
                raise _diagnose(path, no, line, release) from None
            if not no & 0xFFFF:
                bar.update(65_536)
    if release is None:
        raise DataFormatError("no reviews: the file is empty", path=path)
    return cols, release


def _latest(
    user: npt.NDArray[np.int32], item: npt.NDArray[np.int32], stamp: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Rows to keep: the latest review of each (user, item), ties to the later row."""
    key = user.astype(np.int64) * (int(item.max()) + 1) + item
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    repeated = np.zeros(key.size, dtype=bool)
    same = sorted_key[1:] == sorted_key[:-1]
    repeated[1:] |= same
    repeated[:-1] |= same
    if not repeated.any():
        return np.arange(key.size, dtype=np.int64)
    single = order[~repeated]
    rows = order[repeated]  # the few rows of repeated pairs, in (key, position) order
    best = np.lexsort((rows, stamp[rows], key[rows]))
    rows = rows[best]
    last = np.ones(rows.size, dtype=bool)
    last[:-1] = key[rows][1:] != key[rows][:-1]
    return np.sort(np.concatenate([single, rows[last]])).astype(np.int64)


def _titles(
    meta: Path, release: Release, items: dict[str, int], counts: dict[str, int]
) -> dict[int, str]:
    titles: dict[int, str] = {}
    seen: set[int] = set()
    meta_lines = repeated = unreviewed = 0
    for no, found, line in _objects(meta, literal=True):
        if found is None:
            continue
        rec = found if isinstance(found, dict) else _record(meta, no, line, literal=True)
        meta_lines += 1
        asin = rec.get(release.meta_item)
        if not isinstance(asin, str) or not asin:
            raise DataFormatError(
                f"missing field {release.meta_item!r} (the {release.name} release's metadata "
                "names items by it)",
                path=meta,
                line=no,
                text=_shown(line),
            )
        code = items.get(asin)
        if code is None:
            unreviewed += 1
            continue
        if code in seen:
            repeated += 1
            continue
        seen.add(code)
        title = rec.get("title")
        if isinstance(title, str) and title.strip():
            titles[code] = title.strip()
    counts.update(meta_lines=meta_lines, meta_repeated=repeated, meta_unreviewed=unreviewed)
    return titles


def read_reviews(
    reviews: PathArg,
    meta: PathArg | None = None,
    *,
    half_stars: HalfStars = "up",
    progress: bool = False,
) -> LoadedData:
    """:func:`load_reviews`, returning a :class:`LoadedData` with the counts of what it decided.

    ``counts``: ``reviews`` (lines read), ``blank_lines``, ``duplicates_dropped``, ``ratings``
    (kept), ``users``, ``items``, ``untitled_items``, and with ``meta``: ``meta_lines``,
    ``meta_repeated``, ``meta_unreviewed``.
    """
    path = expand_path(reviews)
    cols, release = _read(path, progress)
    n = len(cols.user)
    user = np.frombuffer(cols.user, dtype=np.int32) if n else np.zeros(0, np.int32)
    item = np.frombuffer(cols.item, dtype=np.int32) if n else np.zeros(0, np.int32)
    stamp = np.frombuffer(cols.stamp, dtype=np.int64) if n else np.zeros(0, np.int64)
    values = np.frombuffer(cols.rating, dtype=np.float64) if n else np.zeros(0)
    stars, ok = to_stars(values, half_stars)
    if not ok.all():
        row = int(np.argmin(ok))
        raise DataFormatError(
            f"field {release.rating!r} must be 1-5 stars (or 0.5-5.0 in half stars)",
            path=path,
            line=cols.line_of(row),
            text=repr(float(values[row])),
        )
    keep = _latest(user, item, stamp)
    counts: dict[str, int] = {
        "reviews": n,
        "blank_lines": len(cols.blank_lines),
        "duplicates_dropped": n - int(keep.size),
    }
    user_ids, user_map = ids_from_codes(user, list(cols.users))
    tokens = list(cols.items)
    by_code, item_map = ids_from_codes(np.arange(1, len(tokens) + 1, dtype=np.int32), tokens)
    item_ids = by_code[item - 1]
    seconds = np.floor_divide(stamp[keep], release.per_second)
    ratings = Ratings(
        user_ids[keep],
        item_ids[keep],
        stars[keep],
        (seconds // 86_400).astype("datetime64[D]"),
        time=seconds.astype("datetime64[s]"),
        user_source_ids=user_map,
        movie_source_ids=item_map,
    )
    titles = {} if meta is None else _titles(expand_path(meta), release, cols.items, counts)
    movies = [
        Movie(movie_id, titles.get(code, token), None)
        for code, (movie_id, token) in enumerate(zip(by_code.tolist(), tokens, strict=True), 1)
    ]
    untitled = len(tokens) - len(titles)
    catalog = Catalog(movies, encoding="utf-8", source_ids=item_map)
    counts.update(
        ratings=len(ratings), users=len(cols.users), items=len(catalog), untitled_items=untitled
    )
    _log.info("%s (Amazon %s): %s", path, release.name, counts)
    if counts["duplicates_dropped"]:
        _log.warning(
            "%s: %d repeated reviews of the same item by the same user were dropped for the "
            "latest one",
            path,
            counts["duplicates_dropped"],
        )
    return LoadedData(ratings, catalog, path, counts)


def load_reviews(
    reviews: PathArg,
    meta: PathArg | None = None,
    *,
    half_stars: HalfStars = "up",
    progress: bool = False,
) -> tuple[Ratings, Catalog]:
    """Read Amazon reviews (2018 or 2023 release, JSON lines, gzipped or not) and their titles.

    ``meta`` is the category's metadata file (``meta_*.json(.gz)`` / ``meta_*.jsonl(.gz)``);
    without it every item keeps its ASIN as its title. See the module documentation for the
    rules; :func:`read_reviews` also returns the counts of what was dropped or left untitled.
    """
    loaded = read_reviews(reviews, meta, half_stars=half_stars, progress=progress)
    return loaded.ratings, loaded.catalog
