"""What the hosted arms share: a job on OpenAI's fine-tuning API, priced in the plan, followed
through a manifest and recorded once it ends.

:class:`HostedJobArm` is a :class:`~llmrec.experiment.arms.staged.StagedArm` whose training
starts (or resumes, from its manifest) a :class:`~llmrec.finetune.FineTuner` job with the arm's
settings (``n_epochs``, ``batch_size``, ``learning_rate_multiplier``, ``suffix``, ``seed``) and
waits for it; the run's budget caps the job when its price is known. A model given in the
settings' ``fine_tuned_models`` skips the job.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from llmrec._io import write_json_atomic
from llmrec.experiment.arms.staged import ArmStep, StagedArm
from llmrec.experiment.plan import PlanLine

if TYPE_CHECKING:
    from pathlib import Path

    from llmrec.experiment.arms.base import Record
    from llmrec.experiment.config import FineTuneStage, HostedDPO
    from llmrec.experiment.context import RunContext
    from llmrec.openai_api.prices import PriceTable

__all__ = ["HostedJobArm", "cost_text"]


def cost_text(usd: float | None) -> str:
    """A training price for the report (``None``: the model has no training price)."""
    return "an unknown amount (no training price)" if usd is None else f"{usd:.2f} USD"


class HostedJobArm(StagedArm):
    """An arm trained by a hosted fine-tuning job."""

    provider = "openai"
    missing: ClassVar[str]
    """Why its backends cannot run with fine-tuning off and no model given."""
    records_start: ClassVar[bool] = False
    """Whether its record names the model the job started from (``reference``)."""

    @property
    @abstractmethod
    def settings(self) -> FineTuneStage | HostedDPO:
        """The job's settings table."""

    @property
    @abstractmethod
    def price_model(self) -> str:
        """The model the job is priced as (its start model's base)."""

    @abstractmethod
    def files(self, record: Record) -> Record:
        """The arm's files in the truth's fine-tuning record: their ``key`` and the
        ``training_cost_usd`` of the plan."""

    @abstractmethod
    def job_key(self, name: str, files_key: str) -> str:
        """What the job's model depends on."""

    @abstractmethod
    def manifest_path(self, name: str) -> str:
        """The job's manifest (relative to the output folder)."""

    @abstractmethod
    def job_files(self, step: ArmStep) -> tuple[Path, Path | None]:
        """The training file and the validation file (``None``: none)."""

    @abstractmethod
    def start_model(self, step: ArmStep) -> str | None:
        """The model the job starts from (``None``: not known yet)."""

    def job_options(self, step: ArmStep, table: PriceTable) -> dict[str, Any]:
        """What else :meth:`~llmrec.finetune.FineTuner.start` is given (a method's options)."""
        return {}

    def given(self, name: str) -> str | None:
        return self.settings.fine_tuned_models.get(name)

    def key(self, step: ArmStep) -> str:
        return self.job_key(step.name, str(self.files(step.record)["key"]))

    def ready(self, step: ArmStep) -> bool:
        return self.start_model(step) is not None

    def stand_in(self, ctx: RunContext) -> tuple[str, str | None]:
        from llmrec.finetune.job import planned_model_id

        planned = planned_model_id(self.price_model)
        if self.config.finetune.enabled:
            return planned, None  # the job runs first and gives the model
        return planned, self.missing

    def add_job_line(
        self, ctx: RunContext, name: str, what: str, files: Record, usd: float | None
    ) -> None:
        """Add the plan line of the job on ``files`` (its ``billed_tokens`` at ``usd``),
        finished when an earlier run's job gave the model."""
        line = PlanLine(
            step=what,
            requests=1,
            input_tokens=int(files["billed_tokens"]),
            output_tokens=0,
            usd=usd,
            will_run=self.config.finetune.enabled and self.given(name) is None,
            kind="training",
        )
        done = ctx.store.is_done(f"{self.stage}:{name}", self.job_key(name, files["key"]))
        ctx.add_line(line, finished=done)

    def run_training(self, step: ArmStep, key: str) -> None:
        from llmrec.finetune import FineTuner

        ctx, settings, start = step.ctx, self.settings, str(self.start_model(step))
        # the whole run was checked against the budget before anything was sent; the job
        # checks its own estimate again before uploading
        known = self.files(step.record)["training_cost_usd"] is not None
        known = known and not ctx.free_server()
        table, _ = ctx.training_prices(self.price_model, free=not known)
        tuner = FineTuner(
            ctx.openai_client(),
            manifest=step.out / self.manifest_path(step.name),
            progress=ctx.progress,
            poll_interval=self.config.finetune.poll_interval,
            prices=table,
        )
        if not tuner.has_job():
            train, validation = self.job_files(step)
            tuner.start(
                train,
                validation_file=validation,
                model=start,
                n_epochs=settings.n_epochs,
                batch_size=settings.batch_size,
                learning_rate_multiplier=settings.learning_rate_multiplier,
                suffix=settings.suffix,
                seed=settings.seed,
                max_cost_usd=self.config.budget_usd if known else None,
                **self.job_options(step, table),
            )
        final = tuner.wait()
        record = {"fine_tuned_model": final.fine_tuned_model, "job_id": final.job_id}
        if self.records_start:
            record["reference"] = start
        write_json_atomic(step.out / self.record_path(step.name), record)
