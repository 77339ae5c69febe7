"""``llmrec finetune local``: fine-tune an open-weights model on this machine (or dry-run it)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from llmrec.finetune.local.config import DEFAULT_GRPO_BATCH_SIZE, DEFAULT_LEARNING_RATES

__all__ = ["local_config", "register"]


def register(commands: Any) -> None:
    """Add ``local`` to the ``llmrec finetune`` steps."""
    local = commands.add_parser(
        "local",
        help="fine-tune an open-weights model locally (LoRA, QLoRA or full; needs [train])",
        description=(
            "Supervised fine-tuning with TRL on the model's own chat template, loss on the "
            "assistant tokens; or, with --method dpo, DPO of an SFT model on preference pairs "
            "(the SFT model is the reference); or, with --method grpo, GRPO of an SFT model from "
            "the chat file's prompts, rewarded by a ranking metric of each sampled answer against "
            "the gold list (--catalog resolves titles). Rerun the same command to resume after an "
            "interruption; a finished run is not repeated."
        ),
    )
    local.add_argument(
        "train",
        type=Path,
        help="chat JSONL (from `llmrec finetune export`; with --method grpo its prompts and gold "
        "lists), or with --method dpo a preference file (from `llmrec finetune "
        "export-preferences`)",
    )
    local.add_argument(
        "--model",
        required=True,
        help="base model: hub id or folder (with --method dpo or grpo: the SFT model folder, "
        "which is also the reference)",
    )
    local.add_argument("--out", type=Path, required=True, help="output folder")
    local.add_argument("--validation", type=Path, default=None, help="chat JSONL validation file")
    local.add_argument(
        "--method",
        choices=("lora", "qlora", "full", "dpo", "grpo"),
        default="lora",
        help="lora, qlora or full supervised fine-tuning, dpo on a preference file, or grpo "
        "(reinforcement learning with a ranking-metric reward)",
    )
    local.add_argument(
        "--beta",
        type=float,
        default=None,
        help="DPO's beta (default 0.1), or GRPO's KL coefficient to the SFT model (default 0)",
    )
    _grpo_arguments(local)
    _training_arguments(local)
    local.add_argument(
        "--chat-template", type=Path, default=None, help="Jinja chat template file to use"
    )
    local.add_argument("--dry-run", action="store_true", help="print the estimates, train nothing")
    local.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars, no messages from the training libraries but errors",
    )
    local.set_defaults(func=_local)


def _names(text: str) -> list[str]:
    """A comma-separated list of names (``q_proj, v_proj`` -> ``["q_proj", "v_proj"]``)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _modules(text: str) -> str | list[str]:
    """``--lora-target-modules``: ``all-linear`` or comma-separated module names."""
    return text if text == "all-linear" else _names(text)


def _trackers(text: str) -> list[str]:
    """``--report-to``: ``none`` or comma-separated tracker names."""
    return [] if text == "none" else _names(text)


def _shown(default: Any) -> str:
    """A default as ``--help`` shows it."""
    if default is None or default == []:
        return "none"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def _flags(name: str, flags: tuple[str, ...]) -> tuple[str, ...]:
    return flags or ("--" + name.replace("_", "-"),)


# LocalTrainConfig fields on the command line: (field, flags, help, extra argparse keywords).
# Their defaults are left unset here (None) and shown in --help from LocalTrainConfig itself, so
# the command and the Python API cannot drift apart.
_TRAINING: tuple[tuple[str, tuple[str, ...], str, dict[str, Any]], ...] = (
    ("epochs", (), "passes over the training file", {"type": float}),
    ("batch_size", (), "examples per optimizer step", {"type": int}),
    (
        "per_device_batch_size",
        (),
        "examples per forward pass; the rest is gradient accumulation",
        {"type": int},
    ),
    ("learning_rate", ("--lr", "--learning-rate"), "peak learning rate", {"type": float}),
    ("lr_scheduler", (), "learning-rate schedule after the warm-up", {}),
    ("warmup_ratio", (), "share of the optimizer steps spent warming up", {"type": float}),
    ("weight_decay", (), "AdamW weight decay", {"type": float}),
    ("lora_r", (), "LoRA rank", {"type": int}),
    ("lora_alpha", (), "LoRA alpha", {"type": int}),
    ("lora_dropout", (), "dropout on the LoRA branch", {"type": float}),
    (
        "lora_target_modules",
        (),
        "modules LoRA adapts: all-linear, or comma-separated module names (q_proj,v_proj)",
        {"type": _modules},
    ),
    ("seed", (), "seed of weight init, data order and dropout", {"type": int}),
    ("max_seq_len", (), "longest example in tokens", {"type": int}),
    ("overlong", (), "what to do with examples over --max-seq-len", {}),
    ("dtype", (), "training dtype (auto: bfloat16 on a GPU that has it, else float32)", {}),
    ("merged", (), "also write merged weights (LoRA methods)", {"action": "store_true"}),
    (
        "gradient_checkpointing",
        (),
        "recompute activations in the backward pass: less memory, about a third slower",
        {"action": "store_true"},
    ),
    ("save_steps", (), "optimizer steps between checkpoints", {"type": int}),
    ("save_total_limit", (), "checkpoints kept on disk", {"type": int}),
    (
        "report_to",
        (),
        "experiment trackers to log to, comma-separated (tensorboard, wandb, mlflow, ...; "
        "tensorboard writes under OUT/checkpoints/runs)",
        {"type": _trackers},
    ),
)

_SHOWN_DEFAULTS = {
    "learning_rate": ", ".join(
        f"{rate:g} {method}" for method, rate in DEFAULT_LEARNING_RATES.items()
    ),
    "batch_size": f"32; GRPO: {DEFAULT_GRPO_BATCH_SIZE} prompt",
    "lora_alpha": "2 x --lora-r",
    "max_seq_len": "the model's limit",
}


def _training_arguments(local: Any) -> None:
    """One option per :class:`LocalTrainConfig` training setting, its default in the help."""
    import typing

    from llmrec.finetune.local.config import LocalTrainConfig

    group = local.add_argument_group("training (LocalTrainConfig's settings)")
    for name, flags, text, extra in _TRAINING:
        field = LocalTrainConfig.model_fields[name]
        default = field.get_default(call_default_factory=True)
        shown = _SHOWN_DEFAULTS.get(name, _shown(default))
        options = dict(extra)
        choices = typing.get_args(field.annotation)
        if typing.get_origin(field.annotation) is typing.Literal:
            options["choices"] = choices
        group.add_argument(
            *_flags(name, flags),
            dest=name,
            default=None,
            help=f"{text} (default: {shown})",
            **options,
        )


def _option_names() -> dict[str, str]:
    """Each LocalTrainConfig field the command sets -> its option, for error messages."""
    names = {name: _flags(name, flags)[0] for name, flags, _, _ in _TRAINING}
    names.update(
        method="--method",
        beta="--beta",
        chat_template="--chat-template",
        reward="--reward",
        num_generations="--num-generations",
        temperature="--temperature",
        max_new_tokens="--max-new-tokens",
        hallucination_penalty="--hallucination-penalty",
        profile_penalty="--profile-penalty",
        format_bonus="--format-bonus",
        full_weights="--full-weights",
    )
    return names


def _grpo_arguments(local: Any) -> None:
    group = local.add_argument_group("GRPO (--method grpo)")
    group.add_argument(
        "--catalog",
        "--titles",
        dest="catalog",
        type=Path,
        default=None,
        help="the catalog resolving titles: Netflix movie_titles.csv, or a saved llmrec catalog",
    )
    group.add_argument(
        "--reward",
        default="ndcg@10",
        help="metric rewarded: ndcg@K (default ndcg@10), recall@K, hit@K, mrr, ...",
    )
    group.add_argument(
        "--num-generations", type=int, default=8, help="answers sampled per prompt (default 8)"
    )
    group.add_argument(
        "--temperature", type=float, default=1.0, help="sampling temperature (default 1)"
    )
    group.add_argument(
        "--max-new-tokens", type=int, default=128, help="longest answer in tokens (default 128)"
    )
    group.add_argument(
        "--hallucination-penalty",
        type=float,
        default=0.0,
        help="reward lost per title the catalog cannot resolve (default 0)",
    )
    group.add_argument(
        "--profile-penalty",
        type=float,
        default=0.0,
        help="reward lost per profile movie recommended again (default 0)",
    )
    group.add_argument(
        "--format-bonus",
        type=float,
        default=0.0,
        help="reward added to an answer that parses as a list (default 0)",
    )
    group.add_argument(
        "--full-weights",
        action="store_true",
        help="train every weight of a full-weights SFT model (default: a fresh LoRA adapter)",
    )


def _load_catalog(path: Path | None) -> Any:
    if path is None:
        return None
    from llmrec.data.catalog import Catalog
    from llmrec.data.netflix import load_titles

    if path.is_dir() or path.suffix.lower() in (".csv", ".txt"):
        return load_titles(path)
    return Catalog.load(path)


def local_config(args: argparse.Namespace) -> Any:
    """The :class:`LocalTrainConfig` the options ask for (unset options keep its defaults); a
    bad value is one :class:`~llmrec.errors.ConfigError` line naming the option."""
    from pydantic import ValidationError

    from llmrec.errors import ConfigError
    from llmrec.finetune.local.config import LocalTrainConfig

    given: dict[str, Any] = {
        name: getattr(args, name) for name, _, _, _ in _TRAINING if getattr(args, name) is not None
    }
    if args.method == "grpo":
        given.update(
            reward=args.reward,
            num_generations=args.num_generations,
            temperature=args.temperature,
            max_new_tokens=args.max_new_tokens,
            hallucination_penalty=args.hallucination_penalty,
            profile_penalty=args.profile_penalty,
            format_bonus=args.format_bonus,
            full_weights=args.full_weights,
        )
    if args.chat_template is not None:
        given["chat_template"] = args.chat_template.read_text(encoding="utf-8")
    try:
        return LocalTrainConfig(method=args.method, beta=args.beta, **given)
    except ValidationError as exc:
        raise ConfigError.from_validation(
            "`llmrec finetune local` option", exc, names=_option_names()
        ) from None


def _local(args: argparse.Namespace) -> int:
    config = local_config(args)
    catalog = _load_catalog(args.catalog)
    quiet: Any = contextlib.nullcontext()
    if args.quiet:
        from llmrec.finetune.local._quiet import quiet_libraries

        quiet = quiet_libraries()
    if args.dry_run:
        from llmrec.finetune.local.train import plan_local

        with quiet:
            plan = plan_local(
                args.train, args.model, validation=args.validation, config=config, catalog=catalog
            )
        print(plan)
        return 0
    from llmrec.finetune.local.train import train_local

    with quiet:
        manifest = train_local(
            args.train,
            args.model,
            args.out,
            validation=args.validation,
            config=config,
            progress=not args.quiet,
            catalog=catalog,
        )
    resumed = f", resumed from {', '.join(manifest.resumed_from)}" if manifest.resumed_from else ""
    print(
        f"{manifest.status}: {manifest.optimizer_steps} steps, {manifest.tokens_seen:,} tokens, "
        f"final loss {manifest.final_loss}, {manifest.wall_seconds:.1f} s{resumed}"
    )
    if manifest.rewards:
        first, last = manifest.rewards[0], manifest.rewards[-1]
        print(
            f"reward ({config.reward}) over the sampled answers: {first.reward:.3f} at step "
            f"{first.step}, {last.reward:.3f} at step {last.step} (std {last.reward_std:.3f})"
        )
    for name, path in sorted(manifest.outputs.items()):
        print(f"{name}: {path}")
    return 0
