"""``llmrec probe memorisation``: how much of a data set a language-model backend recalls.

Loads a Netflix Prize or MovieLens folder (titles, and ratings for the popularity buckets),
builds the backend from the registry with ``--option KEY=VALUE`` settings, and prints recall
by bucket with 95 % intervals; ``--dry-run`` prints what would be sent and what it costs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``probe`` command and its sub-commands to the ``llmrec`` parser."""
    probe = subparsers.add_parser("probe", help="probe what a language model already knows")
    sub = probe.add_subparsers(dest="probe_command", metavar="SUBCOMMAND")
    probe.set_defaults(func=lambda args: _help(probe))
    mem = sub.add_parser(
        "memorisation",
        aliases=["memorization"],
        help="does the model already know the data set? recall by popularity bucket",
        description="Ask a language-model backend to recall a data set (complete its item "
        "file's lines, complete titles, or continue users' rating sequences) and print exact "
        "and resolved recall, and the rate of answers naming another catalog item, by "
        "popularity bucket with 95%% Wilson intervals. Answers are cached and priced like "
        "every request; --dry-run prints the cost and sends nothing.",
    )
    mem.add_argument("--backend", required=True, help="registered backend, e.g. openai")
    mem.add_argument(
        "--data",
        type=Path,
        required=True,
        help="Netflix Prize folder (movie_titles.csv and ratings) or MovieLens folder",
    )
    mem.add_argument(
        "--kind",
        choices=("item_lines", "title_completion", "user_lines"),
        default="item_lines",
        help="probe (default item_lines)",
    )
    mem.add_argument(
        "--item-format",
        choices=("auto", "netflix", "ml-100k", "ml-1m", "ml-latest"),
        default="auto",
        help="item file probed by item_lines (default: the one in --data)",
    )
    mem.add_argument("--model", default=None, help="model the backend runs")
    mem.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend setting (VALUE read as JSON when it parses, else as text); repeatable",
    )
    mem.add_argument("--cache", type=Path, default=None, help="response cache file (sqlite)")
    mem.add_argument("--max-items", type=int, default=None, help="probe a sample of N items")
    mem.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    mem.add_argument("--shots", type=int, default=0, help="item lines shown first (default 0)")
    mem.add_argument(
        "--no-ratings",
        action="store_true",
        help="do not load the ratings (no popularity buckets; not for user_lines)",
    )
    mem.add_argument(
        "--calibrate",
        action="store_true",
        help="also run the probe on llmrec's synthetic catalog: the false-positive floor",
    )
    mem.add_argument(
        "--budget-usd",
        type=float,
        default=1.0,
        help="stop before sending if the uncached requests cost more (default 1.0)",
    )
    mem.add_argument(
        "--allow-unknown-cost",
        action="store_true",
        help="send requests whose cost is unknown (a model without a price)",
    )
    mem.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    mem.add_argument(
        "--write-chat",
        type=Path,
        default=None,
        help="also write the probe's prompts with their correct answers as chat JSONL",
    )
    mem.add_argument("--dry-run", action="store_true", help="print the cost, send nothing")
    mem.add_argument("--quiet", action="store_true", help="no progress bars")
    mem.set_defaults(func=memorisation_command)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _options(pairs: list[str]) -> dict[str, Any]:
    from llmrec.errors import ConfigError

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option takes KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(text)
        except ValueError:
            out[key.strip()] = text
    return out


def _load(folder: Path, *, with_ratings: bool, progress: bool) -> tuple[Catalog, Ratings | None]:
    """The catalog (and the ratings) of a data folder, by the item file it holds."""
    from llmrec._paths import expand_path
    from llmrec.errors import DataNotFoundError
    from llmrec.probes import detect_item_format

    root = expand_path(folder)
    if not root.exists():
        raise DataNotFoundError(f"no such data folder: {root}")
    if detect_item_format(root) != "netflix":
        from llmrec.data.movielens import load_movielens

        ratings, catalog = load_movielens(root)
        return catalog, ratings if with_ratings else None
    from llmrec.data import netflix

    if not with_ratings:
        return netflix.load_titles(root), None
    ratings, catalog = netflix.load_netflix(root, progress=progress)
    return catalog, ratings


def memorisation_command(args: argparse.Namespace) -> int:
    """Run (or with ``--dry-run`` price) the probe and print its rates by bucket."""
    from llmrec.errors import ConfigError
    from llmrec.probes import MemorisationProbe, detect_item_format
    from llmrec.recommenders import get_recommender

    if args.kind == "user_lines" and args.no_ratings:
        raise ConfigError("the user_lines probe needs the ratings: drop --no-ratings")
    options = _options(args.option)
    if args.model is not None:
        options["model"] = args.model
    if args.cache is not None:
        options["cache"] = args.cache
    backend = get_recommender(args.backend, **options)
    fmt = detect_item_format(args.data) if args.item_format == "auto" else args.item_format
    probe = MemorisationProbe(
        kind=args.kind,
        item_format=fmt,
        max_items=args.max_items,
        seed=args.seed,
        shots=args.shots,
    )
    catalog, ratings = _load(args.data, with_ratings=not args.no_ratings, progress=not args.quiet)
    if args.write_chat is not None:
        probe.write_chat(catalog, args.write_chat, ratings)
        print(f"wrote the probe's prompts and answers to {args.write_chat}", file=sys.stderr)
    if args.dry_run:
        print(f"{args.kind} probe of {args.data} ({fmt}):")
        print(f"  {probe.plan(backend, catalog, ratings)}")
        if args.calibrate:
            print(f"  calibration: {probe.plan_calibration(backend)}")
        print("nothing was sent (--dry-run)")
        return 0
    report = probe.run(
        backend,
        catalog,
        ratings,
        budget_usd=args.budget_usd,
        allow_unknown_cost=args.allow_unknown_cost,
        progress=not args.quiet,
        catalog_name=str(args.data),
    )
    print(report.to_text())
    floor = None
    if args.calibrate:
        floor = probe.calibrate(
            backend,
            budget_usd=args.budget_usd,
            allow_unknown_cost=args.allow_unknown_cost,
            progress=not args.quiet,
        )
        print()
        print(floor.to_text())
    if args.out is not None:
        report.save(args.out)
        print(f"wrote {args.out}", file=sys.stderr)
        if floor is not None:
            floor_path = args.out.with_name(f"{args.out.stem}.floor.json")
            floor.save(floor_path)
            print(f"wrote {floor_path}", file=sys.stderr)
    return 0
