"""``llmrec finetune export-preferences`` and the preference-file paths of validate/estimate."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["estimate_preferences", "register_export", "validate_preferences"]


def register_export(commands: Any) -> None:
    """Add ``export-preferences`` to the ``llmrec finetune`` steps."""
    from llmrec.finetune.pairs import REJECTED_SOURCES

    export = commands.add_parser(
        "export-preferences",
        help="write a profile dataset as preference (DPO) pairs",
        description=(
            "Write OpenAI's preference format: chosen = the gold list, rejected = the named "
            "source (popularity and random need --ratings; model and hallucinated need "
            "--answers, a recommendations JSONL of an earlier run)."
        ),
    )
    export.add_argument("dataset", type=Path, help="profile dataset (JSONL from llmrec truth)")
    export.add_argument("--out", type=Path, required=True, help="preference JSONL file to write")
    export.add_argument(
        "--titles",
        "--catalog",
        dest="titles",
        type=Path,
        required=True,
        help="Netflix movie_titles.csv giving each movie's title and year",
    )
    export.add_argument(
        "--rejected",
        choices=REJECTED_SOURCES,
        default="popularity",
        help="where the rejected answer comes from (default: popularity)",
    )
    export.add_argument(
        "--ratings",
        type=Path,
        default=None,
        help="ratings folder (Ratings.save) for popularity/random",
    )
    export.add_argument(
        "--answers",
        type=Path,
        default=None,
        help="recommendations JSONL of an earlier run (recs/<truth>/<backend>.jsonl)",
    )
    export.add_argument("--seed", type=int, default=0, help="seed of the random source (default 0)")
    export.add_argument(
        "--format",
        choices=("numbered", "json"),
        default="numbered",
        help="answer format of the assistant messages (default: numbered, as in the study)",
    )
    export.set_defaults(func=_export_preferences)


def _export_preferences(args: argparse.Namespace) -> int:
    from llmrec.data.netflix import load_titles
    from llmrec.data.ratings import Ratings
    from llmrec.finetune.answers import load_answers
    from llmrec.finetune.preference_file import export_preference_jsonl
    from llmrec.prompts import PromptTemplate
    from llmrec.truth.dataset import ProfileDataset

    dataset = ProfileDataset.load(args.dataset)
    catalog = load_titles(args.titles)
    summary = export_preference_jsonl(
        dataset,
        PromptTemplate(output_format=args.format),
        catalog,
        args.out,
        rejected=args.rejected,
        ratings=None if args.ratings is None else Ratings.load(args.ratings),
        seed=args.seed,
        answers=None if args.answers is None else load_answers(args.answers),
    )
    print(f"wrote {summary}")
    return 0


def validate_preferences(args: argparse.Namespace) -> int:
    from llmrec.finetune.preference_cost import DPO_DEFAULT_MODEL
    from llmrec.finetune.validate_preferences import validate_preference_jsonl

    report = validate_preference_jsonl(args.file, model=args.model or DPO_DEFAULT_MODEL)
    print(f"preference (DPO) file; {report}")
    print("valid" if report.ok else "invalid: fix the lines above before uploading")
    return 0 if report.ok else 1


def estimate_preferences(args: argparse.Namespace) -> int:
    from llmrec.finetune.preference_cost import DPO_DEFAULT_MODEL, estimate_preference_cost

    model = args.model or DPO_DEFAULT_MODEL
    estimate = estimate_preference_cost(args.file, model=model, n_epochs=args.epochs)
    print(f"preference (DPO) file; {estimate}")
    return 0
