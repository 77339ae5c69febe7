"""``llmrec truth ...``: build the ground truth (``build``) and summarise it (``stats``)."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmrec.data.ratings import Ratings

__all__ = ["register"]

_PRESETS = {"pd50": "profile_data_50", "pd60": "profile_data_60"}


def _users(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _overlap(text: str) -> int | str:
    if text == "all":
        return "all"
    value = _users(text)
    return 1 if value is None else value


def register(subparsers: Any) -> None:
    """Add the ``truth`` command and its sub-commands to the ``llmrec`` parser."""
    truth = subparsers.add_parser("truth", help="build and inspect the neighbour ground truth")
    sub = truth.add_subparsers(dest="truth_command", metavar="SUBCOMMAND")
    truth.set_defaults(func=lambda args: _help(truth))
    build = sub.add_parser(
        "build",
        help="build profileData50/60 from Netflix ratings",
        description="Build the study's ground truth from a Netflix Prize folder or file, or a "
        "saved Ratings folder, and write it as JSON Lines (FILE) plus FILE.meta.json.",
    )
    build.add_argument("data", type=Path, help="Netflix folder or file, or saved Ratings folder")
    build.add_argument("--preset", choices=sorted(_PRESETS), default="pd50")
    build.add_argument("--out", type=Path, required=True, help="output JSON Lines file")
    build.add_argument("--users", type=_users, default=10_000, help="targets, or 'all'")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--max-neighbours", type=_users, default=10_000, help="or 'all'")
    build.add_argument("--min-overlap", type=_overlap, default=1, help="K or 'all'")
    build.add_argument("--exclude", choices=("profile", "history"), default="profile")
    build.add_argument("--jobs", type=int, default=1, help="local worker processes (-1: all)")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=build_command)
    stats = sub.add_parser("stats", help="summarise a built ground truth file")
    stats.add_argument("file", type=Path)
    stats.set_defaults(func=stats_command)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _load(path: Path, progress: bool) -> Ratings:
    from llmrec.data.ratings import Ratings
    from llmrec.errors import DataFormatError

    if not path.exists():
        raise DataFormatError("no such file or folder", path=path)
    if path.is_dir() and (path / "meta.json").is_file():
        return Ratings.load(path)
    netflix = importlib.import_module("llmrec.data.netflix")
    ratings: Ratings = netflix.load_ratings(path, progress=progress)
    return ratings


def build_command(args: argparse.Namespace) -> int:
    """Build the truth for ``args`` and write it; prints a one-line summary and the stats."""
    from llmrec.truth.builder import NeighbourTruth

    preset = getattr(NeighbourTruth, _PRESETS[args.preset])
    tool: NeighbourTruth = preset(
        n_users=args.users,
        seed=args.seed,
        max_neighbours=args.max_neighbours,
        min_overlap=args.min_overlap,
        exclude=args.exclude,
    )
    ratings = _load(args.data, not args.quiet)
    dataset = tool.build(ratings, n_jobs=args.jobs, progress=not args.quiet)
    dataset.save(args.out)
    print(f"wrote {len(dataset):,} examples to {args.out}", file=sys.stderr)
    print(dataset.stats())
    return 0


def stats_command(args: argparse.Namespace) -> int:
    """Print ``ProfileDataset.stats()`` for a saved file."""
    from llmrec.truth.dataset import ProfileDataset

    print(ProfileDataset.load(args.file).stats())
    return 0
