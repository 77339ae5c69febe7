"""``llmrec data ...``: sub-commands for rating data (``stats PATH``, ``convert SRC OUT``)."""

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
    data = subparsers.add_parser(
        "data", help="inspect and convert rating data (Netflix, MovieLens, RecBole, Amazon)"
    )
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: _help(data))
    stats = sub.add_parser(
        "stats",
        help="load a data set and print its statistics",
        description="Load a Netflix Prize folder or file, a MovieLens or RecBole folder, an "
        "Amazon reviews file or an llmrec folder, and print counts, the star distribution, the "
        "date range, ratings per user and per movie, and the catalog size when titles are "
        "present.",
    )
    stats.add_argument(
        "path",
        type=Path,
        help="Netflix folder or rating file, MovieLens or RecBole folder, Amazon reviews file",
    )
    stats.add_argument("--no-cache", action="store_true", help="parse without the binary cache")
    stats.add_argument("--progress", action="store_true", help="show a progress bar")
    stats.set_defaults(func=stats_command)
    _register_convert(sub)


def _register_convert(sub: Any) -> None:
    convert = sub.add_parser(
        "convert",
        help="convert rating data between formats (to llmrec's binary folder or RecBole files)",
        description="Read a Netflix Prize, MovieLens, RecBole or Amazon data set (or an llmrec "
        "folder) and write it as llmrec's binary folder (memory-mapped columns with time and "
        "source ids, plus catalog.jsonl) or as RecBole atomic files. Prints what the reader "
        "decided (repeated reviews dropped, items without a title) and the statistics.",
    )
    convert.add_argument("src", type=Path, help="the data: folder or file")
    convert.add_argument("out", type=Path, help="the folder to write")
    convert.add_argument(
        "--to", choices=["llmrec", "recbole"], required=True, help="the format to write"
    )
    convert.add_argument(
        "--from",
        dest="source",
        choices=["auto", "llmrec", "recbole", "movielens", "amazon", "netflix"],
        default="auto",
        help="the format of SRC (default: recognised from what it holds)",
    )
    convert.add_argument("--meta", type=Path, help="Amazon metadata file with the titles")
    convert.add_argument(
        "--dataset",
        help="RecBole data set name: NAME.inter to read, or to write (default: OUT's name)",
    )
    convert.add_argument(
        "--implicit-rating",
        type=int,
        help="stars given to every interaction of RecBole files without a rating column",
    )
    convert.add_argument(
        "--half-stars",
        choices=["up", "down"],
        default="up",
        help="how half-star ratings become whole stars (default: up)",
    )
    convert.add_argument("--kcore", type=int, help="keep only the k-core of the ratings")
    convert.add_argument("--progress", action="store_true", help="show a progress bar")
    convert.set_defaults(func=convert_command)


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
    kind: str
    from llmrec.data.convert import detect_source, read_source

    peer = detect_source(path)
    if peer in ("recbole", "amazon", "llmrec"):
        loaded = read_source(path, peer, progress=args.progress)
        ratings, catalog_size = loaded.ratings, len(loaded.catalog)
        kind = {"recbole": "RecBole", "amazon": "Amazon reviews", "llmrec": "llmrec"}[peer]
    elif _is_movielens(path):
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


def convert_command(args: argparse.Namespace) -> int:
    """Run :func:`llmrec.data.convert.convert` and print the counts and the statistics."""
    from llmrec.data.convert import convert, detect_source

    kind = detect_source(args.src) if args.source == "auto" else args.source
    written = convert(
        args.src,
        args.out,
        source=kind,
        to=args.to,
        kcore=args.kcore,
        meta=args.meta,
        dataset=args.dataset,
        implicit_rating=args.implicit_rating,
        half_stars=args.half_stars,
        progress=args.progress,
    )
    print(f"read {args.src} as {kind}; wrote {args.to} files to {written.source}")
    print(written.summary())
    print(written.ratings.stats())
    print(f"catalog        {len(written.catalog):,} titles")
    return 0
