"""A ``TrainerCallback`` that keeps the run manifest current: losses, checkpoints, tokens.

TRL logs ``num_tokens``, the tokens trained on so far, from a counter that starts at zero in every
session; a resumed run would record only what it trained since the resume. The callback adds the
count the checkpoint had reached to each entry the new session logs, so the log history (saved
in later checkpoints) and the manifest's ``tokens_seen`` count the whole run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from llmrec.finetune.local._deps import require
from llmrec.finetune.local.manifest import LocalTrainManifest, RewardStep, StepLoss

__all__ = ["LogBar", "ManifestCallback"]

_Base: Any = require("transformers").TrainerCallback
_Bar: Any = require("transformers").ProgressCallback

# What the bar shows of a log entry, in this order, under these names.
_SHOWN = (
    ("loss", "loss"),
    ("eval_loss", "eval loss"),
    ("reward", "reward"),
    ("learning_rate", "lr"),
)


class LogBar(_Bar):  # type: ignore[misc]
    """transformers' training bar, with the latest loss (and reward, learning rate) beside it
    instead of a printed dict for every logged step; a resumed session says where it resumes."""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero and state.global_step:
            print(
                f"resuming from step {state.global_step} of {state.max_steps}",
                file=sys.stderr,
                flush=True,
            )
        super().on_train_begin(args, state, control, **kwargs)
        if self.training_bar is not None and state.global_step:
            self.training_bar.update(state.global_step)
            self.current_step = state.global_step

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        shown = [
            f"{name} {logs[key]:.4g}"
            for key, name in _SHOWN
            if isinstance(logs.get(key), int | float)
        ]
        if shown:
            self.training_bar.set_postfix_str(", ".join(shown), refresh=True)


class ManifestCallback(_Base):  # type: ignore[misc]
    """Rewrites the manifest (atomically) after every log, evaluation and checkpoint."""

    def __init__(self, manifest: LocalTrainManifest, path: Path, started: float) -> None:
        self.manifest = manifest
        self.path = path
        self.started = started
        self.previous_wall = manifest.wall_seconds
        self.resumed_at = 0  # the global step the session started from
        self.tokens_before = 0  # tokens trained on before that step
        self.checked = 0  # log entries already made cumulative

    def wall_seconds(self) -> float:
        """Wall time of every session of this run so far."""
        return self.previous_wall + (time.monotonic() - self.started)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Note where a resumed session starts (the trainer has loaded the checkpoint's state)."""
        self.resumed_at = int(state.global_step)
        counts = [e["num_tokens"] for e in state.log_history if "num_tokens" in e]
        self.tokens_before = int(counts[-1]) if counts and self.resumed_at else 0
        self.checked = len(state.log_history)

    def sync(self, state: Any) -> None:
        """Copy losses, evaluation losses, steps and tokens from the trainer's state."""
        for entry in state.log_history[self.checked :]:
            if "num_tokens" in entry and int(entry.get("step", 0)) > self.resumed_at:
                entry["num_tokens"] = self.tokens_before + int(entry["num_tokens"])
        self.checked = len(state.log_history)
        losses: list[StepLoss] = []
        evals: list[dict[str, float]] = []
        rewards: list[RewardStep] = []
        tokens = self.manifest.tokens_seen
        for entry in state.log_history:
            if "loss" in entry:
                losses.append(
                    StepLoss(
                        step=int(entry["step"]),
                        epoch=float(entry.get("epoch", 0.0)),
                        loss=float(entry["loss"]),
                        learning_rate=entry.get("learning_rate"),
                    )
                )
            if "reward" in entry and "loss" in entry:
                rewards.append(
                    RewardStep(
                        step=int(entry["step"]),
                        epoch=float(entry.get("epoch", 0.0)),
                        reward=float(entry["reward"]),
                        reward_std=float(entry.get("reward_std", 0.0)),
                        kl=None if entry.get("kl") is None else float(entry["kl"]),
                    )
                )
            if "eval_loss" in entry:
                evals.append({"epoch": float(entry.get("epoch", 0.0)), "loss": entry["eval_loss"]})
            if "num_tokens" in entry:
                tokens = int(entry["num_tokens"])
        self.manifest.losses = losses
        self.manifest.validation_losses = evals
        self.manifest.rewards = rewards
        self.manifest.optimizer_steps = int(state.global_step)
        self.manifest.tokens_seen = tokens
        self.manifest.wall_seconds = self.wall_seconds()
        self.manifest.save(self.path)

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.sync(state)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.sync(state)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.manifest.last_checkpoint = str(
            Path(args.output_dir) / f"checkpoint-{state.global_step}"
        )
        self.sync(state)
