"""The TRL trainer arguments of a local run, built once for every objective.

TRL keeps one argument class per objective (``SFTConfig``, ``DPOConfig``, ``GRPOConfig``, each a
``transformers.TrainingArguments``). What a :class:`~llmrec.finetune.local.LocalTrainConfig`
decides is the same for all of them (epochs, the effective batch as per-device batch times
accumulation, learning rate and schedule, checkpoints, seed, dtype); :func:`trainer_arguments`
fills those in and takes the objective's own settings (DPO's ``beta``, SFT's ``packing``) as
keywords.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from llmrec.finetune.local._deps import quiet_peft, require
from llmrec.finetune.local._model import torch_dtype
from llmrec.finetune.local.config import LocalTrainConfig

__all__ = ["checkpointing_args", "make_trainer", "report_to", "trainer_arguments"]


def checkpointing_args(names: set[str], enabled: bool) -> dict[str, bool]:
    """Gradient checkpointing under every name the argument class knows (transformers 5
    renamed ``gradient_checkpointing`` to ``activation_checkpointing``)."""
    return {
        name: enabled
        for name in ("activation_checkpointing", "gradient_checkpointing")
        if name in names
    }


def report_to(config: LocalTrainConfig) -> list[str]:
    """``config.report_to``, after checking that transformers has each tracker and that its
    package is installed here (a :class:`~llmrec.errors.ConfigError` naming it otherwise)."""
    if not config.report_to:
        return []
    from llmrec.errors import ConfigError

    integrations = require("transformers").integrations
    known = sorted(integrations.integration_utils.INTEGRATION_TO_CALLBACK)
    available = set(integrations.get_available_reporting_integrations())
    for name in config.report_to:
        if name not in known:
            raise ConfigError(
                f"report_to: unknown tracker {name!r}; transformers reports to: " + ", ".join(known)
            )
        if name not in available:
            raise ConfigError(
                f"report_to: the tracker {name!r} needs its package, which is not installed "
                f"here (installed: {', '.join(sorted(available)) or 'none'})"
            )
    return list(config.report_to)


def trainer_arguments(
    arguments_class: Any,
    config: LocalTrainConfig,
    out: Path,
    *,
    evaluate: bool,
    progress: bool,
    **objective: Any,
) -> Any:
    """``arguments_class(...)`` (e.g. ``trl.SFTConfig``) for a run writing checkpoints under
    ``out/checkpoints``; ``evaluate`` runs the validation file each epoch; ``objective`` holds
    the objective's own arguments."""
    torch = require("torch")
    dtype = torch_dtype(config)
    names = {f.name for f in dataclasses.fields(arguments_class)}
    arguments: dict[str, Any] = dict(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.device_batch,
        per_device_eval_batch_size=config.device_batch,
        gradient_accumulation_steps=config.accumulation,
        learning_rate=config.lr,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="epoch" if evaluate else "no",
        seed=config.seed,
        data_seed=config.seed,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        **checkpointing_args(names, config.gradient_checkpointing),
        report_to=report_to(config),
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        save_only_model=False,
    )
    arguments.update(objective)  # GRPO counts its per-device batch in answers, not prompts
    return arguments_class(**arguments)


def make_trainer(
    trainer_class: Any,
    model: Any,
    args: Any,
    tokenizer: Any,
    datasets: tuple[Any, Any | None],
    *,
    callbacks: list[Any] | None,
    progress: bool,
    **objective: Any,
) -> Any:
    """``trainer_class`` (a TRL trainer) on the ``(train, evaluation)`` datasets, without
    transformers' log printer when ``progress`` is off, and with :class:`LogBar
    <llmrec.finetune.local._callback.LogBar>` (the loss beside the bar, no dict a step) for
    transformers' terminal bar when on; ``objective`` holds the trainer's own arguments (DPO's
    ``ref_model``)."""
    with quiet_peft():  # TRL's DPO reads a deprecated property while it sets up
        trainer = trainer_class(
            model=model,
            args=args,
            train_dataset=datasets[0],
            eval_dataset=datasets[1],
            processing_class=tokenizer,
            callbacks=callbacks,
            **objective,
        )
    transformers = require("transformers")
    if not progress:
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    elif trainer.pop_callback(transformers.trainer_callback.ProgressCallback) is not None:
        from llmrec.finetune.local._callback import LogBar  # the terminal's bar (not a notebook's)

        trainer.add_callback(LogBar)
    return trainer
