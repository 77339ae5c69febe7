"""The study's arm: a hosted supervised fine-tuning job on the chat files (``provider = "openai"``).

The job (:class:`~llmrec.finetune.FineTuner`) trains ``[finetune] model`` on the truth's train
split (validation on its val split) with the study's settings (2 epochs, batch 32, learning-rate
multiplier 1). Its manifest (``finetune/NAME.manifest.json``) is written after every change, so
an interrupted run follows the same job instead of starting another; the finished model id is
the stage ``finetune-job:NAME``, so a rerun sends nothing. The plan prices the job from the
exact token count of the chat file; a model given in ``fine_tuned_models`` skips the job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmrec._io import write_json_atomic
from llmrec.experiment.arms.base import FineTuningArm, Record, Trained
from llmrec.experiment.plan import PlanLine
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from typing_extensions import Self

    from llmrec.experiment.config import ExperimentConfig
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext

__all__ = ["HostedSFTArm"]


class HostedSFTArm(FineTuningArm):
    """``provider = "openai"``: a hosted supervised job (always present; runs when enabled)."""

    provider = "openai"
    method = "sft"
    how_to_add = "set finetune.enabled = true (provider 'openai')"

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> Self | None:
        return cls(config)

    def _job_key(self, files_key: str) -> str:
        ft = self.config.finetune
        settings = ft.model_dump(mode="json", exclude={"poll_interval", "dpo"})
        return stage_key(files_key, settings)

    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        ft = self.config.finetune
        usd = record["training_cost_usd"]
        if ctx.free_server():
            usd = 0.0
        line = PlanLine(
            step=f"fine-tune {ft.model} on {truth.name}",
            requests=1,
            input_tokens=int(record["billed_tokens"]),
            output_tokens=0,
            usd=None if usd is None else float(usd),
            will_run=ft.enabled and truth.name not in ft.fine_tuned_models,
            kind="training",
        )
        done = ctx.store.is_done(f"finetune-job:{truth.name}", self._job_key(record["key"]))
        ctx.add_line(line, finished=done)
        return {}

    def find(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> str | None:
        ft = self.config.finetune
        if truth.name in ft.fine_tuned_models:
            return ft.fine_tuned_models[truth.name]
        key = self._job_key(record["key"])
        if ft.enabled and ctx.store.is_done(f"finetune-job:{truth.name}", key):
            model = ctx.read_json(f"finetune/{truth.name}.model.json").get("fine_tuned_model")
            return str(model) if model else None
        return None

    def stand_in(self, ctx: RunContext) -> tuple[str, str | None]:
        from llmrec.finetune.job import planned_model_id

        planned = planned_model_id(self.config.finetune.model)
        if self.config.finetune.enabled:
            return planned, None  # the job runs first and gives the model
        return planned, (
            "needs a fine-tuned model: enable finetune or set finetune.fine_tuned_models"
        )

    def train(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> Trained:
        ft = self.config.finetune
        name = truth.name
        if name in ft.fine_tuned_models:
            return ft.fine_tuned_models[name], {}
        if not ft.enabled or ctx.dry_run:
            return None, {}
        model_path = f"finetune/{name}.model.json"
        # the whole run was checked against the budget before anything was sent; the job
        # checks its own estimate again before uploading
        known = record["training_cost_usd"] is not None and not ctx.free_server()

        def work() -> None:
            from llmrec.finetune import FineTuner

            table, _ = ctx.training_prices(ft.model, free=not known)
            tuner = FineTuner(
                ctx.openai_client(),
                manifest=ctx.out / f"finetune/{name}.manifest.json",
                progress=ctx.progress,
                poll_interval=ft.poll_interval,
                prices=table,
            )
            if not tuner.has_job():
                tuner.start(
                    ctx.out / record["train_file"],
                    validation_file=ctx.out / record["val_file"],
                    model=ft.model,
                    n_epochs=ft.n_epochs,
                    batch_size=ft.batch_size,
                    learning_rate_multiplier=ft.learning_rate_multiplier,
                    suffix=ft.suffix,
                    seed=ft.seed,
                    max_cost_usd=self.config.budget_usd if known else None,
                )
            final = tuner.wait()
            write_json_atomic(
                ctx.out / model_path,
                {"fine_tuned_model": final.fine_tuned_model, "job_id": final.job_id},
            )

        ctx.store.run(f"finetune-job:{name}", self._job_key(record["key"]), [model_path], work)
        model = ctx.read_json(model_path).get("fine_tuned_model")
        return (str(model) if model else None), {}

    @classmethod
    def report_lines(cls, record: Record) -> list[str]:
        usd = record.get("training_cost_usd", 0.0)
        cost = "an unknown amount (no training price)" if usd is None else f"{usd:.2f} USD"
        return [
            f"Fine-tuning file: {record.get('train_examples', 0):,} examples, "
            f"{record.get('train_tokens', 0):,} tokens; {record.get('n_epochs')} epochs cost "
            f"{cost} at list price.",
            "",
        ]
