"""``llmrec finetune``: export, validate, price, start, follow and cancel fine-tuning runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec.finetune.dpo_models import DPO_DEFAULT_MODEL
from llmrec.openai_api.models import DEFAULT_MODEL

if TYPE_CHECKING:
    import openai

    from llmrec.finetune.job import JobState

__all__ = ["make_client", "register"]

_MODEL = DEFAULT_MODEL
_MANIFEST_NAME = "finetune-manifest.json"
_MODEL_HELP = f"base model (default {_MODEL}; for preference files {DPO_DEFAULT_MODEL})"


def make_client() -> openai.OpenAI:
    """An SDK client from ``OPENAI_API_KEY`` (and ``OPENAI_BASE_URL`` if set).

    Uses the one key rule of :mod:`llmrec.openai_api.keys`; raises
    :class:`~llmrec.errors.APIKeyMissingError` saying how to set the key when it is missing,
    before any client is created.
    """
    from llmrec.openai_api.client import make_client as _make_client

    return _make_client(sdk_retries=None)


def register(sub: Any) -> None:
    """Add ``llmrec finetune ...`` to the ``llmrec`` command."""
    parser = sub.add_parser(
        "finetune",
        help="fine-tuning files and hosted OpenAI fine-tuning jobs",
        description=(
            "Write, check and price chat fine-tuning files, then run a hosted fine-tuning job "
            "whose every step is kept in a manifest file (rerun to resume)."
        ),
    )
    commands = parser.add_subparsers(dest="finetune_command", metavar="STEP", required=True)

    from llmrec.finetune._cli_export import register_exports

    register_exports(commands)

    validate = commands.add_parser("validate", help="check a file as OpenAI will")
    validate.add_argument("file", type=Path, help="chat or preference (DPO) JSONL file")
    validate.add_argument("--model", default=None, help=_MODEL_HELP)
    validate.set_defaults(func=_validate)

    estimate = commands.add_parser("estimate", help="count tokens and price a training run")
    estimate.add_argument("file", type=Path, help="chat or preference (DPO) JSONL training file")
    estimate.add_argument("--epochs", type=int, default=2, help="epochs (default 2)")
    estimate.add_argument("--model", default=None, help=_MODEL_HELP)
    estimate.set_defaults(func=_estimate)

    from llmrec.finetune.local._cli import register as register_local

    register_local(commands)

    start = commands.add_parser("start", help="upload the files and create the job")
    start.add_argument(
        "train", type=Path, help="chat JSONL training file (preference JSONL with --method dpo)"
    )
    start.add_argument("--validation", type=Path, default=None, help="chat JSONL validation file")
    start.add_argument("--model", default=_MODEL, help=f"base model (default {_MODEL})")
    start.add_argument("--epochs", type=int, default=2, help="epochs (default 2)")
    start.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    start.add_argument(
        "--lr-multiplier", type=float, default=1.0, help="learning-rate multiplier (default 1)"
    )
    start.add_argument("--suffix", default=None, help="text added to the fine-tuned model id")
    start.add_argument("--seed", type=int, default=None, help="job seed")
    start.add_argument(
        "--manifest",
        type=Path,
        default=None,
        help=f"run manifest (default: {_MANIFEST_NAME} beside TRAIN)",
    )
    start.add_argument(
        "--max-cost", type=float, default=None, help="refuse to start above this many USD"
    )
    start.add_argument("--wait", action="store_true", help="follow the job to its end")
    start.add_argument(
        "--method",
        choices=("supervised", "dpo"),
        default="supervised",
        help="supervised (chat file, default) or dpo (preference file)",
    )
    start.add_argument("--beta", type=float, default=None, help="DPO beta (default: auto)")
    start.add_argument(
        "--allow-model",
        action="store_true",
        help="start a DPO job on a model OpenAI does not list for DPO",
    )
    _follow_options(start)
    start.set_defaults(func=_start)

    for name, func, text in (
        ("status", _status, "show the job's status, once"),
        ("wait", _wait, "follow the job to its end and print the fine-tuned model id"),
        ("cancel", _cancel, "cancel the job"),
    ):
        step = commands.add_parser(name, help=text)
        step.add_argument("manifest", type=Path, help="run manifest written by `start`")
        _follow_options(step, polls=name == "wait")
        step.set_defaults(func=func)


def _follow_options(parser: argparse.ArgumentParser, *, polls: bool = True) -> None:
    """``--quiet``, and ``--poll-interval`` for the steps that follow a job (start, wait)."""
    if polls:
        parser.add_argument(
            "--poll-interval", type=float, default=5.0, help="seconds between checks (default 5)"
        )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _tuner(args: argparse.Namespace, manifest: Path) -> Any:
    from llmrec.finetune.job import FineTuner

    return FineTuner(
        make_client(),
        manifest=manifest,
        progress=not args.quiet,
        poll_interval=getattr(args, "poll_interval", 5.0),  # status and cancel do not poll
    )


def _print_state(state: JobState) -> None:
    print(state)
    print(f"manifest: {state.manifest}")


def _validate(args: argparse.Namespace) -> int:
    from llmrec.finetune.formats import detect_format

    fmt = detect_format(args.file)
    report = fmt.validate(args.file, model=args.model or fmt.default_model)
    print(f"{fmt.label}{report}")
    print("valid" if report.ok else "invalid: fix the lines above before uploading")
    return 0 if report.ok else 1


def _estimate(args: argparse.Namespace) -> int:
    from llmrec.finetune.formats import detect_format

    fmt = detect_format(args.file)
    model = args.model or fmt.default_model
    _check_priced(model)
    print(f"{fmt.label}{fmt.estimate_cost(args.file, model=model, n_epochs=args.epochs)}")
    return 0


def _check_priced(model: str) -> None:
    """A model without a training price is named with the models ``--model`` can take."""
    from llmrec.errors import ConfigError
    from llmrec.openai_api.prices import PRICES, training_price

    try:
        training_price(model)
    except ConfigError:
        known = sorted(m for m, row in PRICES.models.items() if row.training is not None)
        raise ConfigError(
            f"no training price for model {model!r} in the price table of {PRICES.as_of}; "
            f"give --model one of: {', '.join(known)}"
        ) from None


def _start(args: argparse.Namespace) -> int:
    manifest = args.manifest or args.train.parent / _MANIFEST_NAME
    tuner = _tuner(args, manifest)
    state = tuner.start(
        args.train,
        validation_file=args.validation,
        model=args.model,
        n_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate_multiplier=args.lr_multiplier,
        suffix=args.suffix,
        seed=args.seed,
        max_cost_usd=args.max_cost,
        method=args.method,
        beta=args.beta,
        allow_unlisted_dpo_model=args.allow_model,
    )
    _print_state(state)
    if args.wait:
        return _report_end(tuner.wait())
    print(f"follow it with: llmrec finetune wait {manifest}")
    return 0


def _status(args: argparse.Namespace) -> int:
    _print_state(_tuner(args, args.manifest).status())
    return 0


def _wait(args: argparse.Namespace) -> int:
    return _report_end(_tuner(args, args.manifest).wait())


def _cancel(args: argparse.Namespace) -> int:
    _print_state(_tuner(args, args.manifest).cancel())
    return 0


def _report_end(state: JobState) -> int:
    _print_state(state)
    if state.status != "succeeded":
        return 1
    print(state.fine_tuned_model)
    return 0
