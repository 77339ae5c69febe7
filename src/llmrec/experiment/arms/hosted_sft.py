"""The study's arm: a hosted supervised fine-tuning job on the chat files (``provider = "openai"``).

The job (:class:`~llmrec.finetune.FineTuner`) trains ``[finetune] model`` on the truth's train
split (validation on its val split) with the study's settings (2 epochs, batch 32, learning-rate
multiplier 1). Its manifest (``finetune/NAME.manifest.json``) is written after every change, so
an interrupted run follows the same job instead of starting another; the finished model id is
the stage ``finetune-job:NAME``, so a rerun sends nothing. The plan prices the job from the
exact token count of the chat file; a model given in ``fine_tuned_models`` skips the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmrec.experiment.arms._hosted import HostedJobArm, cost_text
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from pathlib import Path

    from typing_extensions import Self

    from llmrec.experiment.arms.base import Record
    from llmrec.experiment.arms.staged import ArmStep
    from llmrec.experiment.config import ExperimentConfig, FineTuneStage
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext

__all__ = ["HostedSFTArm"]


class HostedSFTArm(HostedJobArm):
    """``provider = "openai"``: a hosted supervised job (always present; runs when enabled)."""

    method = "sft"
    how_to_add = "set finetune.enabled = true (provider 'openai')"
    stage = "finetune-job"
    missing = "needs a fine-tuned model: enable finetune or set finetune.fine_tuned_models"

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> Self | None:
        return cls(config)

    @property
    def settings(self) -> FineTuneStage:
        return self.config.finetune

    @property
    def price_model(self) -> str:
        return self.config.finetune.model

    def files(self, record: Record) -> Record:
        return record  # the chat files' summary starts the record

    def job_key(self, name: str, files_key: str) -> str:
        settings = self.config.finetune.model_dump(mode="json", exclude={"poll_interval", "dpo"})
        return stage_key(files_key, settings)

    def record_path(self, name: str) -> str:
        return f"finetune/{name}.model.json"

    def manifest_path(self, name: str) -> str:
        return f"finetune/{name}.manifest.json"

    def job_files(self, step: ArmStep) -> tuple[Path, Path | None]:
        return step.out / step.record["train_file"], step.out / step.record["val_file"]

    def start_model(self, step: ArmStep) -> str:
        return self.config.finetune.model

    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        usd = record["training_cost_usd"]
        usd = 0.0 if ctx.free_server() else (None if usd is None else float(usd))
        what = f"fine-tune {self.config.finetune.model} on {truth.name}"
        self.add_job_line(ctx, truth.name, what, record, usd)
        return {}

    @classmethod
    def report_lines(cls, record: Record) -> list[str]:
        return [
            f"Fine-tuning file: {record.get('train_examples', 0):,} examples, "
            f"{record.get('train_tokens', 0):,} tokens; {record.get('n_epochs')} epochs cost "
            f"{cost_text(record.get('training_cost_usd', 0.0))} at list price.",
            "",
        ]
