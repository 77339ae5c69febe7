"""``llmrec data ...``: sub-commands for rating data (``llmrec data stats PATH``)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings

__all__ = ["register"]

_MOVIELENS_MARKERS = ("u.data", "ratings.dat", "ratings.csv")


def register(subparsers: Any) -> None:
    """Add the ``data`` command and its sub-commands to the ``llmrec`` parser."""
    data = subparsers.add_parser("data", help="inspect rating data (Netflix Prize, MovieLens)")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: _help(data))
    stats = sub.add_parser(
        "stats",
        help="load a data set and print its statistics",
        description="Load a Netflix Prize folder or file, or a MovieLens folder, and print "
        "counts, the star distribution, the date range, ratings per user and per movie, and "
        "the catalog size when titles are present.",
    )
    stats.add_argument("path", type=Path, help="Netflix folder or rating file, or MovieLens folder")
    stats.add_argument("--no-cache", action="store_true", help="parse without the binary cache")
    stats.add_argument("--progress", action="store_true", help="show a progress bar")
    stats.set_defaults(func=stats_command)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _is_movielens(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in _MOVIELENS_MARKERS)


def stats_command(args: argparse.Namespace) -> int:
    """Print ``Ratings.stats()`` for ``args.path`` and the catalog size if titles exist."""
    from llmrec._paths import expand_path

    path = expand_path(args.path)
    if not path.exists():
        print(f"llmrec: error: no such file or folder: {path}", file=sys.stderr)
        return 1
    catalog_size: int | None = None
    if _is_movielens(path):
        # Imported by name, lazily: MovieLens support lives in its own module.
        movielens = importlib.import_module("llmrec.data.movielens")
        load_movielens: Callable[[Path], tuple[Ratings, Catalog]] = movielens.load_movielens
        ratings, catalog = load_movielens(path)
        kind = "MovieLens"
        catalog_size = len(catalog)
    else:
        from llmrec.data.netflix import load_ratings, load_titles

        ratings = load_ratings(path, cache=not args.no_cache, progress=args.progress)
        kind = "Netflix Prize"
        folder = path if path.is_dir() else path.parent
        for name in ("movie_titles.csv", "movie_titles.txt"):
            if (folder / name).is_file():
                catalog_size = len(load_titles(folder / name))
                break
    print(f"{kind} data at {path}")
    print(ratings.stats())
    if catalog_size is not None:
        print(f"catalog        {catalog_size:,} titles")
    return 0
