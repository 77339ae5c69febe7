"""``llmrec finetune local``: fine-tune an open-weights model on this machine (or dry-run it)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


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
    local.add_argument("--epochs", type=float, default=2.0, help="epochs (default 2)")
    local.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="examples per optimizer step (default 32; GRPO: prompts, default 1)",
    )
    local.add_argument(
        "--per-device-batch-size",
        type=int,
        default=8,
        help="examples per forward pass; the rest is gradient accumulation (default 8)",
    )
    local.add_argument(
        "--lr",
        "--learning-rate",
        dest="lr",
        type=float,
        default=None,
        help="learning rate (default 2e-4 LoRA, 2e-5 full, 5e-6 DPO, 1e-6 GRPO)",
    )
    local.add_argument("--lora-r", type=int, default=16, help="LoRA rank (default 16)")
    local.add_argument("--lora-alpha", type=int, default=None, help="LoRA alpha (default 2 r)")
    local.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    local.add_argument("--max-seq-len", type=int, default=None, help="longest example in tokens")
    local.add_argument(
        "--overlong",
        choices=("error", "drop", "truncate"),
        default="error",
        help="what to do with examples over --max-seq-len (default: error)",
    )
    local.add_argument("--merged", action="store_true", help="also write merged weights")
    local.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="recompute activations in the backward pass: less memory, about a third slower",
    )
    local.add_argument("--save-steps", type=int, default=50, help="steps between checkpoints")
    local.add_argument(
        "--chat-template", type=Path, default=None, help="Jinja chat template file to use"
    )
    local.add_argument("--dry-run", action="store_true", help="print the estimates, train nothing")
    local.add_argument("--quiet", action="store_true", help="no progress bars")
    local.set_defaults(func=_local)


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


def _local(args: argparse.Namespace) -> int:
    from llmrec.finetune.local.config import LocalTrainConfig

    grpo: dict[str, Any] = {}
    if args.method == "grpo":
        grpo = {
            "reward": args.reward,
            "num_generations": args.num_generations,
            "temperature": args.temperature,
            "max_new_tokens": args.max_new_tokens,
            "hallucination_penalty": args.hallucination_penalty,
            "profile_penalty": args.profile_penalty,
            "format_bonus": args.format_bonus,
            "full_weights": args.full_weights,
        }
    catalog = _load_catalog(args.catalog)
    config = LocalTrainConfig(
        method=args.method,
        epochs=args.epochs,
        batch_size=args.batch_size,
        per_device_batch_size=args.per_device_batch_size,
        learning_rate=args.lr,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        beta=args.beta,
        seed=args.seed,
        max_seq_len=args.max_seq_len,
        overlong=args.overlong,
        merged=args.merged,
        gradient_checkpointing=args.gradient_checkpointing,
        save_steps=args.save_steps,
        chat_template=(
            None if args.chat_template is None else args.chat_template.read_text(encoding="utf-8")
        ),
        **grpo,
    )
    if args.dry_run:
        from llmrec.finetune.local.train import plan_local

        print(
            plan_local(
                args.train, args.model, validation=args.validation, config=config, catalog=catalog
            )
        )
        return 0
    from llmrec.finetune.local.train import train_local

    manifest = train_local(
        args.train,
        args.model,
        args.out,
        validation=args.validation,
        config=config,
        progress=not args.quiet,
        catalog=catalog,
    )
    print(
        f"{manifest.status}: {manifest.optimizer_steps} steps, {manifest.tokens_seen:,} tokens, "
        f"final loss {manifest.final_loss}, {manifest.wall_seconds:.1f} s"
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
