"""``llmrec finetune export`` and ``export-preferences``: write a profile dataset as a file of
one fine-tuning format (chat, or preference pairs for DPO)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register_exports"]


def register_exports(commands: Any) -> None:
    """Add the export steps to the ``llmrec finetune`` steps."""
    from llmrec.finetune.pairs import REJECTED_SOURCES

    _export_parser(
        commands, "export", "write a profile dataset as chat JSONL", "chat"
    ).set_defaults(func=_export_chat)
    prefs = _export_parser(
        commands,
        "export-preferences",
        "write a profile dataset as preference (DPO) pairs",
        "preference",
        description=(
            "Write OpenAI's preference format: chosen = the gold list, rejected = the named "
            "source (popularity and random need --ratings; model and hallucinated need "
            "--answers, a recommendations JSONL of an earlier run)."
        ),
    )
    prefs.add_argument(
        "--rejected",
        choices=REJECTED_SOURCES,
        default="popularity",
        help="where the rejected answer comes from (default: popularity)",
    )
    prefs.add_argument(
        "--ratings",
        type=Path,
        default=None,
        help="the ratings, for popularity/random: a Netflix Prize, MovieLens or RecBole folder, "
        "an Amazon reviews file, or a saved llmrec/Ratings folder (what `llmrec data stats` "
        "reads)",
    )
    prefs.add_argument(
        "--answers",
        type=Path,
        default=None,
        help="recommendations JSONL of an earlier run (recs/<truth>/<backend>.jsonl)",
    )
    prefs.add_argument("--seed", type=int, default=0, help="seed of the random source (default 0)")
    prefs.set_defaults(func=_export_preferences)


def _export_parser(
    commands: Any, name: str, text: str, kind: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A step taking a profile dataset, ``--out``, ``--titles`` and the answer ``--format``."""
    export: argparse.ArgumentParser = commands.add_parser(name, help=text, description=description)
    export.add_argument("dataset", type=Path, help="profile dataset (JSONL from llmrec truth)")
    export.add_argument("--out", type=Path, required=True, help=f"{kind} JSONL file to write")
    export.add_argument(
        "--titles",
        "--catalog",
        dest="titles",
        type=Path,
        required=True,
        help="Netflix movie_titles.csv giving each movie's title and year",
    )
    export.add_argument(
        "--format",
        choices=("numbered", "json"),
        default="numbered",
        help="answer format the assistant messages use (default: numbered, as in the study)",
    )
    return export


def _inputs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The dataset, the template of the chosen answer format and the catalog."""
    from llmrec.data.netflix import load_titles
    from llmrec.prompts import PromptTemplate
    from llmrec.truth.dataset import ProfileDataset

    template = PromptTemplate(output_format=args.format)
    return ProfileDataset.load(args.dataset), template, load_titles(args.titles)


def _export_chat(args: argparse.Namespace) -> int:
    from llmrec.finetune.formats import CHAT

    dataset, template, catalog = _inputs(args)
    out = CHAT.export(dataset, template, catalog, args.out)
    print(f"wrote {len(dataset):,} examples to {out}")
    return 0


def _export_preferences(args: argparse.Namespace) -> int:
    from llmrec.data.convert import read_source
    from llmrec.finetune.answers import load_answers
    from llmrec.finetune.formats import PREFERENCE

    dataset, template, catalog = _inputs(args)
    summary = PREFERENCE.export(
        dataset,
        template,
        catalog,
        args.out,
        rejected=args.rejected,
        ratings=None if args.ratings is None else read_source(args.ratings).ratings,
        seed=args.seed,
        answers=None if args.answers is None else load_answers(args.answers),
    )
    print(f"wrote {summary}")
    return 0
