"""``llmrec truth ...``: build a ground truth (``build``) and summarise it (``stats``).

``--protocol`` picks the truth: ``neighbour`` (the study's profileData50/60, ``--preset``),
``probe`` (the Netflix probe set), ``last-n`` (each user's ``--n`` latest ratings) or
``time-split`` (ratings on or after ``--cutoff``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmrec.data.ratings import Ratings
    from llmrec.truth.dataset import ProfileDataset

__all__ = ["register"]

_PRESETS = {"pd50": "profile_data_50", "pd60": "profile_data_60"}
_PROTOCOLS = ("neighbour", "probe", "last-n", "time-split")
_MOVIELENS_FILES = ("u.data", "ratings.dat", "ratings.csv")


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
    truth = subparsers.add_parser("truth", help="build and inspect ground truths")
    sub = truth.add_subparsers(dest="truth_command", metavar="SUBCOMMAND")
    truth.set_defaults(func=lambda args: _help(truth))
    build = sub.add_parser(
        "build",
        help="build a ground truth (neighbour, probe, last-n or time-split)",
        description="Build a ground truth from a Netflix Prize folder or file, a MovieLens "
        "folder, or a saved Ratings folder, and write it as JSON Lines (FILE) plus "
        "FILE.meta.json. The holdout protocols (probe, last-n, time-split) take gold from "
        "what each user rated in a held-out part of their ratings.",
    )
    build.add_argument(
        "data", type=Path, help="Netflix folder or file, MovieLens folder, or saved Ratings folder"
    )
    build.add_argument(
        "--protocol",
        choices=_PROTOCOLS,
        default="neighbour",
        help="neighbour: the study's neighbour consensus (see --preset); probe: the Netflix "
        "probe set is held out; last-n: each user's --n most recent ratings; time-split: "
        "ratings dated on or after --cutoff (default: neighbour)",
    )
    build.add_argument("--out", type=Path, required=True, help="output JSON Lines file")
    build.add_argument("--users", type=_users, default=10_000, help="targets, or 'all'")
    build.add_argument("--seed", type=int, default=0, help="seed of the target draw")
    neighbour = build.add_argument_group("neighbour protocol")
    neighbour.add_argument(
        "--preset", choices=sorted(_PRESETS), default="pd50", help="profileData50 or 60"
    )
    neighbour.add_argument(
        "--max-neighbours",
        type=_users,
        default=10_000,
        help="neighbours drawn per target when it has more, or 'all' (default 10000)",
    )
    neighbour.add_argument(
        "--min-overlap",
        type=_overlap,
        default=1,
        help="profile movies a neighbour must have rated highly: K, or 'all' (default 1)",
    )
    neighbour.add_argument(
        "--exclude",
        choices=("profile", "history"),
        default="profile",
        help="movies never gold: the target's profile, or everything it rated (default profile)",
    )
    neighbour.add_argument("--jobs", type=int, default=1, help="local worker processes (-1: all)")
    neighbour.add_argument(
        "--checkpoint",
        type=Path,
        help="folder keeping finished chunks of targets: a killed build run again with the "
        "same folder continues where it stopped (use it with --users all)",
    )
    holdout = build.add_argument_group("holdout protocols (probe, last-n, time-split)")
    holdout.add_argument(
        "--probe",
        type=Path,
        help="probe.txt or the folder holding it (default: the data folder's probe.txt)",
    )
    holdout.add_argument(
        "--n", type=int, default=10, help="last-n: most recent ratings held out per user"
    )
    holdout.add_argument(
        "--cutoff", help="time-split: ratings on or after this day (YYYY-MM-DD) are held out"
    )
    holdout.add_argument(
        "--relevant-min-rating", type=int, default=4, help="stars a gold movie needs (4)"
    )
    holdout.add_argument("--max-gold", type=int, default=10, help="gold list length, at most")
    holdout.add_argument("--profile-size", type=int, default=10, help="movies in a profile")
    holdout.add_argument(
        "--min-five-star", type=int, default=4, help="5-star ratings a target needs in history"
    )
    holdout.add_argument(
        "--history",
        type=Path,
        help="also save the fitting table (every rating except the targets' held-out ones) "
        "as a Ratings folder here",
    )
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=build_command)
    stats = sub.add_parser("stats", help="summarise a built ground truth file (any protocol)")
    stats.add_argument("file", type=Path, help="ground truth JSON Lines file from `truth build`")
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
    if path.is_dir() and any((path / name).is_file() for name in _MOVIELENS_FILES):
        from llmrec.data.movielens import load_movielens

        return load_movielens(path)[0]
    netflix = importlib.import_module("llmrec.data.netflix")
    ratings: Ratings = netflix.load_ratings(path, progress=progress)
    return ratings


def build_command(args: argparse.Namespace) -> int:
    """Build the truth for ``args`` and write it; prints a one-line summary and the stats."""
    dataset = _build_neighbour(args) if args.protocol == "neighbour" else _build_holdout(args)
    dataset.save(args.out)
    print(f"wrote {len(dataset):,} examples to {args.out}", file=sys.stderr)
    print(dataset.stats())
    return 0


def _build_neighbour(args: argparse.Namespace) -> ProfileDataset:
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
    return tool.build(
        ratings, n_jobs=args.jobs, progress=not args.quiet, checkpoint=args.checkpoint
    )


def _build_holdout(args: argparse.Namespace) -> ProfileDataset:
    from llmrec.data.netflix import load_probe
    from llmrec.errors import ConfigError
    from llmrec.truth.holdout import HoldoutTruth
    from llmrec.truth.last_n import LastNTruth
    from llmrec.truth.probe import ProbeTruth
    from llmrec.truth.time_split import TimeSplitTruth

    common: dict[str, Any] = {
        "n_users": args.users,
        "seed": args.seed,
        "relevant_min_rating": args.relevant_min_rating,
        "max_gold": args.max_gold,
        "profile_size": args.profile_size,
        "min_five_star": args.min_five_star,
    }
    context: dict[str, Any] = {}
    truth: HoldoutTruth
    if args.protocol == "probe":
        source = args.probe if args.probe is not None else args.data
        if source.is_dir() and not (source / "probe.txt").is_file():
            raise ConfigError(f"no probe.txt in {source}: pass --probe PATH")
        truth = ProbeTruth(**common)
        context["probe"] = load_probe(source)
    elif args.protocol == "last-n":
        truth = LastNTruth(n=args.n, **common)
    else:
        if args.cutoff is None:
            raise ConfigError("--protocol time-split needs --cutoff YYYY-MM-DD")
        truth = TimeSplitTruth(cutoff=args.cutoff, **common)
    ratings = _load(args.data, not args.quiet)
    dataset = truth.build(ratings, progress=not args.quiet, **context)
    if args.history is not None:
        truth.history(ratings, users=dataset.user_ids, **context).save(args.history)
        print(f"wrote the fitting table to {args.history}", file=sys.stderr)
    return dataset


def stats_command(args: argparse.Namespace) -> int:
    """Print ``ProfileDataset.stats()`` for a saved file."""
    from llmrec.truth.dataset import ProfileDataset

    print(ProfileDataset.load(args.file).stats())
    return 0
