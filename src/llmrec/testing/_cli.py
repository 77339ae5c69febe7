"""``llmrec models tiny OUT --catalog ...``: the tiny offline test model from the command line.

The model :func:`llmrec.testing.tiny_model.build_tiny_model` writes (a Llama architecture from a
config with seeded random weights, a BPE tokenizer trained on the catalog's labels, a ChatML
template) loads wherever a Hugging Face model folder does, so local fine-tuning and the
``transformers`` backend can be tried end to end without a network or a download.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]

_OFFLINE_STEPS = """\
try local fine-tuning offline (the [train] extra, CPU, nothing downloaded):
  DATA=$(python -c "from llmrec.data.synthetic import ensure_synthetic; print(ensure_synthetic())")
  llmrec truth build "$DATA" --out pd50.jsonl --preset pd50 --users 100
  llmrec finetune export pd50.jsonl --catalog "$DATA" --out train.jsonl
  llmrec models tiny tiny-model --catalog "$DATA"
  llmrec finetune local train.jsonl --model tiny-model --method full --epochs 1 --out runs/tiny
A random-weight model learns the answer format, not good recommendations; with a network, pass
a hub id (Qwen/Qwen2.5-0.5B-Instruct) instead. With HF_HUB_OFFLINE=1 a hub id loads only from
the Hugging Face cache."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``models`` command and its ``tiny`` sub-command to the ``llmrec`` parser."""
    models = subparsers.add_parser(
        "models",
        help="local models for offline use (the tiny test model)",
        description="Local models that need no network.",
        epilog=_OFFLINE_STEPS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = models.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    models.set_defaults(func=lambda args: _help(models))
    tiny = sub.add_parser(
        "tiny",
        help="build a tiny random-weight chat model for a catalog (nothing downloaded)",
        description="Build a tiny Llama chat model in OUT: seeded random weights from a config, "
        "a BPE tokenizer trained on the catalog's titles and the prompt's text, a ChatML chat "
        "template. It loads like any Hugging Face model folder (--model OUT). Needs the [train] "
        "extra.",
        epilog=_OFFLINE_STEPS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tiny.add_argument("out", type=Path, help="folder to write the model to")
    tiny.add_argument(
        "--catalog",
        "--titles",
        dest="catalog",
        type=Path,
        required=True,
        help="Netflix movie_titles.csv (or the folder holding it) whose titles the tokenizer "
        "learns",
    )
    tiny.add_argument(
        "--hidden-size", type=_positive, default=128, help="hidden size (default 128)"
    )
    tiny.add_argument("--layers", type=_positive, default=2, help="decoder layers (default 2)")
    tiny.add_argument("--seed", type=int, default=0, help="seed of the weights (default 0)")
    tiny.set_defaults(func=_tiny)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _tiny(args: argparse.Namespace) -> int:
    from llmrec.data.netflix import load_titles
    from llmrec.errors import ConfigError
    from llmrec.testing.tiny_model import build_tiny_model

    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"{args.out} is a file; OUT must be a folder")
    if args.hidden_size % 4:
        raise ConfigError(
            f"--hidden-size must be a multiple of the 4 attention heads, got {args.hidden_size}"
        )
    catalog = load_titles(args.catalog)
    out = build_tiny_model(
        args.out, catalog, hidden_size=args.hidden_size, n_layers=args.layers, seed=args.seed
    )
    print(f"wrote a tiny random-weight model for {len(catalog):,} titles to {out}")
    print(f"use it as --model {out} (llmrec finetune local) or model={str(out)!r} in Python")
    return 0
