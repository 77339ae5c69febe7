"""The arm whose training is one resumable stage: how every built-in arm finds and trains.

Every built-in arm trains a truth's model in one stage of the stage record, ``STAGE:NAME``,
keyed by what the model depends on (its files, settings and start model), whose output is one
JSON record naming the model (``fine_tuned_model``). :class:`StagedArm` writes
:meth:`~llmrec.experiment.arms.base.FineTuningArm.find` and
:meth:`~llmrec.experiment.arms.base.FineTuningArm.train` once for all of them:

* a model the config gives for the truth is used as it is (nothing trains);
* with fine-tuning off, or in a dry run, nothing trains; ``find`` still reports a model an
  earlier run trained with the same key;
* otherwise the stage runs (or is reused when done) and its record's model is returned.

A subclass supplies what is its own: the stage name, where its record is, the key, the training
itself (:meth:`StagedArm.run_training`, given an :class:`ArmStep`) and the record fields it adds.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from llmrec.experiment.arms.base import FineTuningArm, Record, Trained

if TYPE_CHECKING:
    from pathlib import Path

    from llmrec.experiment.context import PreparedTruth, RunContext

__all__ = ["ArmStep", "StagedArm"]


@dataclass(frozen=True)
class ArmStep:
    """One truth's step of an arm: what ``find`` and ``train`` were given, passed on whole to
    the hooks of :class:`StagedArm`."""

    ctx: RunContext
    truth: PreparedTruth
    record: Record
    """The truth's fine-tuning record so far (the chat files' summary, earlier arms' fields)."""
    models: Mapping[str, str | None]
    """The models of the arms before this one, by method."""

    @property
    def name(self) -> str:
        """The truth's name."""
        return self.truth.name

    @property
    def out(self) -> Path:
        """The run's output folder."""
        return self.ctx.out


class StagedArm(FineTuningArm):
    """An arm that trains in one resumable stage ``STAGE:NAME`` writing one JSON record."""

    stage: ClassVar[str]
    """The stage's name before ``:NAME`` in ``stages.json`` (``"finetune-job"``, ...)."""

    def given(self, name: str) -> str | None:
        """The model the config gives for truth ``name`` (``None``: none; it trains)."""
        return None

    @abstractmethod
    def record_path(self, name: str) -> str:
        """The trained arm's record (relative to the output folder)."""

    @abstractmethod
    def key(self, step: ArmStep) -> str | None:
        """The stage key: what the model depends on (``None``: not known yet, as when the model
        it starts from is not trained)."""

    def ready(self, step: ArmStep) -> bool:
        """Whether training can start now (an arm may need an earlier arm's model)."""
        return True

    @abstractmethod
    def run_training(self, step: ArmStep, key: str) -> None:
        """Train (or resume) and write :meth:`record_path`; run inside the stage."""

    def trained_fields(self, step: ArmStep, trained: Record, key: str) -> dict[str, Any]:
        """The fine-tuning record's fields added after training (``trained``: the record
        :meth:`run_training` wrote)."""
        return {}

    def _model_in_record(self, ctx: RunContext, name: str) -> str | None:
        model = ctx.read_json(self.record_path(name)).get("fine_tuned_model")
        return str(model) if model else None

    def find(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> str | None:
        given = self.given(truth.name)
        if given is not None:
            return given
        if not self.config.finetune.enabled:
            return None
        key = self.key(ArmStep(ctx, truth, record, models))
        if key is None or not ctx.store.is_done(f"{self.stage}:{truth.name}", key):
            return None
        return self._model_in_record(ctx, truth.name)

    def train(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> Trained:
        given = self.given(truth.name)
        if given is not None:
            return given, {}
        step = ArmStep(ctx, truth, record, models)
        if not self.config.finetune.enabled or ctx.dry_run or not self.ready(step):
            return None, {}
        key = self.key(step)
        if key is None:
            return None, {}
        path = self.record_path(truth.name)

        def work() -> None:
            self.run_training(step, key)

        ctx.store.run(f"{self.stage}:{truth.name}", key, [path], work)
        trained = ctx.read_json(path)
        return self._model_in_record(ctx, truth.name), self.trained_fields(step, trained, key)
