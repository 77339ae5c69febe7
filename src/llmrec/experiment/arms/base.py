"""The fine-tuning arm interface: one class per (provider, method), found in one registry.

An arm turns a truth's train split into a model that backends run beside the zero-shot arm:

* :meth:`FineTuningArm.plan`: write the arm's free files (a dry run too) and add what training
  costs to the plan (USD for a hosted job, compute for local training), before anything is sent;
* :meth:`FineTuningArm.find`: the model given in the config, or trained by an earlier run with
  the same settings (so backends are priced with it and nothing is trained twice);
* :meth:`FineTuningArm.stand_in`: the model a backend of this arm is built and priced with
  while the arm's model is not known yet, and why such a backend cannot run;
* :meth:`FineTuningArm.train`: train (resumable; a finished stage is reused), after the run's
  budget check;
* :meth:`FineTuningArm.report_lines`: the arm's paragraph in the report;
* :meth:`FineTuningArm.config_problems`: what in a config keeps the arm from running, found
  before any stage runs.

Arms of one provider run in registry order, each given the models of those before it (a DPO
arm starts from the SFT arm's model). Everything an arm records for one truth goes into that
truth's fine-tuning record (``results.json``: ``datasets.NAME.finetune``): :meth:`plan` and
:meth:`train` return the fields they add. A backend says which arm's model it runs by the
arm's ``method`` (:func:`llmrec.experiment.arms.registry.backend_arm`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from typing_extensions import Self

    from llmrec.experiment.config import ExperimentConfig
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext

__all__ = ["FineTuningArm", "Record", "Trained"]

Record = Mapping[str, Any]
"""One truth's fine-tuning record as read by an arm (the fields earlier steps wrote)."""

Trained = tuple[str | None, dict[str, Any]]
"""What :meth:`FineTuningArm.train` returns: the model (``None``: none) and the record fields."""


class FineTuningArm(ABC):
    """One fine-tuning arm of an experiment (see the module docstring)."""

    provider: ClassVar[str]
    """``finetune.provider`` under which this arm runs (``"openai"``, ``"local"``)."""
    method: ClassVar[str]
    """What backends ask for to run its model (``"sft"``, ``"dpo"``, ...)."""
    how_to_add: ClassVar[str]
    """How a config asks for this arm, for error messages."""

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config

    @classmethod
    @abstractmethod
    def from_config(cls, config: ExperimentConfig) -> Self | None:
        """The arm ``config`` asks for, or ``None`` when it does not ask for this one."""

    @classmethod
    def config_problems(cls, config: ExperimentConfig, *, selected: bool) -> list[str]:
        """Why this arm, as ``config`` sets it up, cannot run (one sentence each).

        ``selected``: ``config``'s provider is this arm's (an arm's table under another
        provider is usually a mistake worth reporting)."""
        return []

    @abstractmethod
    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        """Write the free files, add the plan line(s); the record fields added."""

    @abstractmethod
    def find(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> str | None:
        """The model given or trained earlier with these settings (``None``: none yet)."""

    @abstractmethod
    def stand_in(self, ctx: RunContext) -> tuple[str, str | None]:
        """A model to build and price this arm's backends with before training, and why they
        cannot run (``None``: they can; the arm trains before them)."""

    @abstractmethod
    def train(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> Trained:
        """Train, resume or reuse (not in a dry run); the model and the record fields added."""

    @classmethod
    @abstractmethod
    def report_lines(cls, record: Record) -> list[str]:
        """The report's paragraph on this arm for one truth (empty: nothing to say)."""
