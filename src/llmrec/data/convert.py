"""Converting rating data between formats: what ``llmrec data convert`` runs.

Sources (``source=``, recognised from the path with ``"auto"``):

============  ==============================================================================
``llmrec``    a folder written by :func:`save_llmrec` (``meta.json`` + ``catalog.jsonl``), or by
              :meth:`Ratings.save` alone (movies are then titled by their ids, counted)
``recbole``   a folder of RecBole atomic files (``NAME.inter``, ``NAME.item``)
``movielens`` a MovieLens folder (``u.data``, ``ratings.dat`` or ``ratings.csv``)
``amazon``    an Amazon reviews file (JSON lines, gzipped or not; ``meta=`` for titles)
``netflix``   a Netflix Prize folder or rating file (with ``movie_titles.csv`` beside it)
============  ==============================================================================

Targets (``to=``):

* ``llmrec``: llmrec's own binary folder, the fastest to read back: :meth:`Ratings.save`'s
  ``.npy`` columns (memory-mapped on load; ``time`` and the source id maps included) and
  :meth:`Catalog.save`'s ``catalog.jsonl``. Every llmrec command that takes a ratings folder
  reads it (``llmrec truth build --ratings OUT``), and :func:`load_llmrec` returns both.
* ``recbole``: RecBole atomic files (:func:`llmrec.data.recbole.write_atomic`), so RecBole
  (and OpenP5, LLMRank, which read RecBole's files) trains on exactly the same interactions.

``kcore=k`` filters the ratings to their k-core on the way (:func:`llmrec.data.kcore`) and the
catalog to the items that remain.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from llmrec._paths import expand_path
from llmrec.data._stars import HalfStars
from llmrec.data.catalog import Catalog, Movie
from llmrec.data.kcore import kcore as kcore_filter
from llmrec.data.loaded import LoadedData
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError, DataNotFoundError

__all__ = [
    "SOURCES",
    "TARGETS",
    "convert",
    "detect_source",
    "load_llmrec",
    "read_source",
    "save_llmrec",
    "untitled_catalog",
]

Source = Literal["auto", "llmrec", "recbole", "movielens", "amazon", "netflix"]
Target = Literal["llmrec", "recbole"]
PathArg = str | Path
_CATALOG = "catalog.jsonl"
_MOVIELENS_FILES = ("u.data", "ratings.dat", "ratings.csv")


def save_llmrec(folder: PathArg, ratings: Ratings, catalog: Catalog) -> Path:
    """Write ``ratings`` (:meth:`Ratings.save`) and ``catalog.jsonl`` into ``folder``."""
    out = expand_path(folder)
    ratings.save(out)
    catalog.save(out / _CATALOG)
    return out


def load_llmrec(folder: PathArg, *, mmap: bool = True) -> tuple[Ratings, Catalog]:
    """Read a folder written by :func:`save_llmrec` (the columns memory-mapped by default).

    A folder written by :meth:`Ratings.save` alone (no ``catalog.jsonl``) gets a catalog in
    which every rated movie's title is its source id (see :func:`untitled_catalog`).
    """
    src = expand_path(folder)
    ratings = Ratings.load(src, mmap=mmap)
    if not (src / _CATALOG).is_file():
        return ratings, untitled_catalog(ratings)
    return ratings, Catalog.load(src / _CATALOG)


def untitled_catalog(ratings: Ratings) -> Catalog:
    """A catalog of the rated movies, each titled by its source id (no year)."""
    ids = np.unique(ratings.movie_id).tolist()
    return Catalog(
        (Movie(m, ratings.source_movie(m), None) for m in ids),
        source_ids=ratings.movie_source_ids,
    )


def detect_source(path: PathArg) -> Source:
    """The source kind of ``path`` (see the module documentation), from what it holds."""
    p = expand_path(path)
    if p.is_dir():
        if (p / "meta.json").is_file():
            return "llmrec"
        if any(f.is_file() for f in p.glob("*.inter")):
            return "recbole"
        if any((p / name).is_file() for name in _MOVIELENS_FILES):
            return "movielens"
        return "netflix"
    if not p.is_file():
        raise DataNotFoundError(f"no such file or folder: {p}")
    with open(p, "rb") as fh:
        head = fh.read(64).lstrip()
    if head.startswith((b"\x1f\x8b", b"{")):
        return "amazon"
    return "netflix"


def _llmrec(path: Path, options: dict[str, Any]) -> LoadedData:
    ratings, catalog = load_llmrec(path)
    untitled = 0 if (path / _CATALOG).is_file() else len(catalog)
    return LoadedData(ratings, catalog, path, {"ratings": len(ratings), "untitled_items": untitled})


def _recbole(path: Path, options: dict[str, Any]) -> LoadedData:
    from llmrec.data.recbole import read_atomic

    return read_atomic(
        path,
        options.get("dataset"),
        implicit_rating=options.get("implicit_rating"),
        half_stars=options.get("half_stars", "up"),
    )


def _movielens(path: Path, options: dict[str, Any]) -> LoadedData:
    from llmrec.data.movielens import load_movielens

    ratings, catalog = load_movielens(path)
    return LoadedData(ratings, catalog, path, {"ratings": len(ratings)})


def _amazon(path: Path, options: dict[str, Any]) -> LoadedData:
    from llmrec.data.amazon import read_reviews

    return read_reviews(
        path,
        options.get("meta"),
        half_stars=options.get("half_stars", "up"),
        progress=options.get("progress", False),
    )


def _netflix(path: Path, options: dict[str, Any]) -> LoadedData:
    from llmrec.data.netflix import load_netflix

    ratings, catalog = load_netflix(path, progress=options.get("progress", False))
    return LoadedData(ratings, catalog, path, {"ratings": len(ratings)})


_READERS: dict[str, Callable[[Path, dict[str, Any]], LoadedData]] = {
    "llmrec": _llmrec,
    "recbole": _recbole,
    "movielens": _movielens,
    "amazon": _amazon,
    "netflix": _netflix,
}
SOURCES = ("auto", *_READERS)
"""The ``source=`` values :func:`read_source` accepts."""


def read_source(
    path: PathArg,
    source: Source = "auto",
    *,
    meta: PathArg | None = None,
    dataset: str | None = None,
    implicit_rating: int | None = None,
    half_stars: HalfStars = "up",
    progress: bool = False,
) -> LoadedData:
    """Read ``path`` as ``source`` (recognised with ``"auto"``); options go to its loader.

    ``meta`` is for Amazon reviews; ``dataset`` and ``implicit_rating`` for RecBole files;
    ``half_stars`` for every source that rates in numbers.
    """
    p = expand_path(path)
    kind: str = detect_source(p) if source == "auto" else source
    if kind not in _READERS:
        raise ConfigError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    if meta is not None and kind != "amazon":
        raise ConfigError(f"meta= is for Amazon reviews, but {p} is read as {kind}")
    options = {
        "meta": meta,
        "dataset": dataset,
        "implicit_rating": implicit_rating,
        "half_stars": half_stars,
        "progress": progress,
    }
    loaded = _READERS[kind](p, options)
    loaded.counts.setdefault("ratings", len(loaded.ratings))
    return loaded


def _restrict(catalog: Catalog, movie_ids: Any) -> Catalog:
    keep = set(np.unique(movie_ids).tolist())
    return Catalog(
        (m for m in catalog if m.movie_id in keep),
        encoding=catalog.encoding,
        source_ids=catalog.source_ids,
    )


def _write_llmrec(out: Path, ratings: Ratings, catalog: Catalog, dataset: str | None) -> Path:
    return save_llmrec(out, ratings, catalog)


def _write_recbole(out: Path, ratings: Ratings, catalog: Catalog, dataset: str | None) -> Path:
    from llmrec.data.recbole import write_atomic

    return write_atomic(out, ratings, catalog, dataset or out.name)


_WRITERS: dict[str, Callable[[Path, Ratings, Catalog, str | None], Path]] = {
    "llmrec": _write_llmrec,
    "recbole": _write_recbole,
}
TARGETS = tuple(_WRITERS)
"""The ``to=`` values :func:`convert` accepts."""


def convert(
    src: PathArg,
    out: PathArg,
    *,
    source: Source = "auto",
    to: Target = "llmrec",
    kcore: int | None = None,
    meta: PathArg | None = None,
    dataset: str | None = None,
    implicit_rating: int | None = None,
    half_stars: HalfStars = "up",
    progress: bool = False,
) -> LoadedData:
    """Read ``src``, optionally keep its ``kcore``, and write it to ``out`` in format ``to``.

    Returns what was written, with the reader's counts plus, with ``kcore``, ``kcore_dropped``
    (ratings the k-core removed), ``kcore_users`` and ``kcore_items``; ``ratings`` is then the
    number written. For ``to="recbole"`` the files are ``out/DATASET.inter`` and ``.item``,
    ``DATASET`` being ``dataset`` or the name of ``out``.
    """
    if to not in TARGETS:
        raise ConfigError(f"unknown target format {to!r}; choose one of {', '.join(TARGETS)}")
    loaded = read_source(
        src,
        source,
        meta=meta,
        dataset=dataset,
        implicit_rating=implicit_rating,
        half_stars=half_stars,
        progress=progress,
    )
    ratings, catalog = loaded.ratings, loaded.catalog
    counts = dict(loaded.counts)
    if kcore is not None:
        ratings = kcore_filter(ratings, kcore)
        catalog = _restrict(catalog, ratings.movie_id)
        counts["kcore_dropped"] = len(loaded.ratings) - len(ratings)
        counts["ratings"] = len(ratings)
        counts["kcore_users"] = ratings.n_users
        counts["kcore_items"] = len(catalog)
    target = _WRITERS[to](expand_path(out), ratings, catalog, dataset)
    return LoadedData(ratings, catalog, target, counts)
