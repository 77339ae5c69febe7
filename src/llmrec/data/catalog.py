"""``Catalog``: movie id → title and release year, with lookups both ways."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec._io import atomic_open
from llmrec.data.source_ids import SourceIds
from llmrec.errors import DataFormatError

__all__ = ["Catalog", "Movie"]

_FORMAT = "llmrec-catalog/1"


@dataclass(frozen=True)
class Movie:
    """One catalog entry. ``year`` is ``None`` where the source has no year (Netflix ``NULL``)."""

    movie_id: int
    title: str
    year: int | None

    def label(self) -> str:
        """``"Title (Year)"``, or just the title when the year is unknown."""
        return self.title if self.year is None else f"{self.title} ({self.year})"


def _key(title: str) -> str:
    """Lookup key for :meth:`Catalog.ids_for`: case- and whitespace-insensitive, accents kept."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", title)).strip().casefold()


class Catalog:
    """Movie metadata keyed by movie id.

    Titles may repeat under different ids (the Netflix file has two "Twister" and two
    "The Patriot"), so :meth:`ids_for` returns every id with that title, in id order.
    ``encoding`` records the text encoding a loader read the titles with. ``source_ids`` maps
    the integer ids back to the source's string ids (Amazon ASINs, RecBole tokens; ``None``
    when the source's ids were integers): :meth:`source_id` and :meth:`id_for_source`.
    """

    def __init__(
        self,
        movies: Iterable[Movie],
        *,
        encoding: str | None = None,
        source_ids: SourceIds | None = None,
    ) -> None:
        self.encoding = encoding
        """The text encoding the titles were read with (``None`` if not read from a file)."""
        self.source_ids = source_ids
        """The source's string ids of the movie ids, or ``None`` when they were integers."""
        self._movies: dict[int, Movie] = {}
        for m in movies:
            if m.movie_id in self._movies:
                raise ValueError(f"duplicate movie id {m.movie_id} in catalog")
            self._movies[m.movie_id] = m
        self._movies = dict(sorted(self._movies.items()))
        self._by_title: dict[str, list[int]] | None = None  # built on first use

    @classmethod
    def from_mapping(cls, titles: Mapping[int, tuple[str, int | None]]) -> Catalog:
        """Build from ``{movie_id: (title, year)}``."""
        return cls(Movie(int(i), t, y) for i, (t, y) in titles.items())

    def __len__(self) -> int:
        return len(self._movies)

    def __contains__(self, movie_id: object) -> bool:
        return movie_id in self._movies

    def __iter__(self) -> Iterator[Movie]:
        return iter(self._movies.values())

    def __repr__(self) -> str:
        return f"Catalog({len(self):,} movies)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Catalog):
            return NotImplemented
        return self._movies == other._movies and self.source_ids == other.source_ids

    __hash__ = None  # type: ignore[assignment]

    @property
    def movie_ids(self) -> npt.NDArray[np.int32]:
        """All movie ids, ascending."""
        return np.fromiter(self._movies, dtype=np.int32, count=len(self._movies))

    def movie(self, movie_id: int) -> Movie:
        """The :class:`Movie` for ``movie_id``; ``KeyError`` naming the id if it is unknown."""
        try:
            return self._movies[int(movie_id)]
        except KeyError:
            raise KeyError(f"movie id {movie_id} is not in the catalog") from None

    def title(self, movie_id: int) -> str:
        return self.movie(movie_id).title

    def year(self, movie_id: int) -> int | None:
        return self.movie(movie_id).year

    def label(self, movie_id: int) -> str:
        """``"Title (Year)"`` for ``movie_id``."""
        return self.movie(movie_id).label()

    def ids_for(self, title: str) -> list[int]:
        """Every movie id whose title equals ``title`` (ignoring case and extra spaces)."""
        if self._by_title is None:
            by_title: dict[str, list[int]] = {}
            for m in self._movies.values():
                by_title.setdefault(_key(m.title), []).append(m.movie_id)
            self._by_title = by_title
        return list(self._by_title.get(_key(title), []))

    def source_id(self, movie_id: int) -> str:
        """The source's id of ``movie_id`` (its decimal text when the source used integers)."""
        if self.source_ids is None:
            return str(int(movie_id))
        return self.source_ids.token(movie_id)

    def id_for_source(self, source_id: str) -> int:
        """The movie id the source id ``source_id`` was given; ``KeyError`` if it is unknown."""
        if self.source_ids is None:
            text = str(source_id)
            if text.isascii() and text.isdigit() and int(text) in self._movies:
                return int(text)
            raise KeyError(f"source id {source_id!r} is not in the catalog")
        return self.source_ids.id(source_id)

    # -- persistence: ``llmrec-catalog/1`` JSON lines ------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the catalog, with its source ids, as JSON lines (format ``llmrec-catalog/1``).

        Line 1 is a header ``{"format", "movies", "encoding", "source_ids"}``; when the
        catalog maps string ids, line 2 is the JSON list of them (item 0 is id 1); then one
        ``{"id", "title", "year"}`` object per movie, in id order. JSON keeps every title
        exactly; the file is written atomically. :meth:`load` reads it back.
        """
        out = Path(path)
        header = {
            "format": _FORMAT,
            "movies": len(self),
            "encoding": self.encoding,
            "source_ids": self.source_ids is not None,
        }
        with atomic_open(out) as fh:
            fh.write(json.dumps(header) + "\n")
            if self.source_ids is not None:
                fh.write(json.dumps(self.source_ids.tokens(), ensure_ascii=False) + "\n")
            for m in self:
                row = {"id": m.movie_id, "title": m.title, "year": m.year}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return out

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        """Read a file written by :meth:`save`; :class:`DataFormatError` names a bad line."""
        src = Path(path)
        lines = src.read_text(encoding="utf-8").splitlines()
        header = _json_line(src, 1, lines[0]) if lines else None
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            raise DataFormatError(f"not a saved catalog (expected {_FORMAT!r})", path=src, line=1)
        body = 1
        mapping = None
        if header.get("source_ids"):
            tokens = _json_line(src, 2, lines[1]) if len(lines) > 1 else None
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise DataFormatError("line 2 must be the list of source ids", path=src, line=2)
            mapping = SourceIds(tokens)
            body = 2
        movies = []
        for no, line in enumerate(lines[body:], start=body + 1):
            row = _json_line(src, no, line)
            if not (
                isinstance(row, dict)
                and isinstance(row.get("id"), int)
                and isinstance(row.get("title"), str)
                and (row.get("year") is None or isinstance(row.get("year"), int))
            ):
                raise DataFormatError(
                    'expected {"id": int, "title": str, "year": int or null}',
                    path=src,
                    line=no,
                    text=line[:200],
                )
            movies.append(Movie(row["id"], row["title"], row["year"]))
        if len(movies) != header.get("movies"):
            raise DataFormatError(
                f"the header promises {header.get('movies')} movies, the file has {len(movies)}",
                path=src,
            )
        return cls(movies, encoding=header.get("encoding"), source_ids=mapping)


def _json_line(path: Path, no: int, line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise DataFormatError(f"not JSON: {exc}", path=path, line=no, text=line[:200]) from None
