"""The run context: what a stage or a fine-tuning arm may read, and the three things it may add.

A stage (:mod:`llmrec.experiment.stages`) and an arm (:mod:`llmrec.experiment.arms`) receive a
:class:`RunContext` and the objects earlier stages made, and return what they made. From the
context they may **read** the config, the output folder, the stage record (to run a resumable
stage or ask whether one is done), whether this is a dry run and whether to show progress, and
the settings derived from the config once (the experiment server's price rule, the settings
shared with every language-model backend, the hosted fine-tuning client). They may **add**:

* plan lines (:meth:`RunContext.add_line`; a step an earlier run finished is marked so, and the
  budget check leaves it out);
* models (:meth:`RunContext.add_model`: the model a fine-tuning arm trained or found for one
  truth, which backends that run that arm then use);
* results (:meth:`RunContext.add_dataset`: one truth's typed results).

Nothing else of a run is shared: there is no runner object to reach into.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec.errors import ConfigError
from llmrec.experiment.budget import check_budget, planned_total, worst_case_total
from llmrec.experiment.config import ExperimentConfig, TruthSpec
from llmrec.experiment.plan import FINETUNE_OFF, PlanLine
from llmrec.experiment.results import DatasetResult, Results
from llmrec.experiment.store import StageStore
from llmrec.recommenders.llm.spend import SpendLimit

if TYPE_CHECKING:
    from collections.abc import Mapping

    from llmrec.data import Catalog, Ratings
    from llmrec.data.netflix import ProbeSet
    from llmrec.openai_api.prices import PriceTable
    from llmrec.recommenders.capabilities import RunSettings
    from llmrec.truth import ProfileDataset

__all__ = ["LoadedData", "PreparedTruth", "RunContext"]


@dataclass(frozen=True)
class LoadedData:
    """The ratings and titles of the run, their key (source config + ratings fingerprint) and
    their statistics (``results.json``'s ``data``)."""

    ratings: Ratings
    catalog: Catalog
    key: str
    stats: dict[str, Any]


@dataclass(frozen=True)
class PreparedTruth:
    """One configured truth after its free stages: the data set and its split.

    ``key`` is the split stage's key: every later stage of this truth derives its key from it.
    """

    name: str
    spec: TruthSpec
    key: str
    dataset: ProfileDataset
    parts: Mapping[str, ProfileDataset]
    """``train``, ``val`` and ``test``."""

    @property
    def test(self) -> ProfileDataset:
        return self.parts["test"]


@dataclass
class RunContext:
    """One run of an experiment, as stages and arms see it (see the module docstring)."""

    config: ExperimentConfig
    out: Path
    store: StageStore
    progress: bool = True
    dry_run: bool = False
    _plan: list[PlanLine] = field(default_factory=list, init=False, repr=False)
    _finished: set[int] = field(default_factory=set, init=False, repr=False)
    _models: dict[tuple[str, str], str | None] = field(default_factory=dict, init=False)
    _probe: ProbeSet | None = field(default=None, init=False, repr=False)
    results: Results = field(init=False)
    """The results document being built (read it; add to it with :meth:`add_dataset`)."""
    planned_stages: list[str] = field(default_factory=list, init=False)
    """A dry run: the stages a real run would perform, named as its stage log names them."""
    spend: SpendLimit = field(init=False, repr=False)
    """The budget while requests are in flight, shared by every language-model backend."""

    def __post_init__(self) -> None:
        self.results = Results(config=json.loads(self.config.to_json()), datasets={})
        self.spend = SpendLimit(self.config.budget_usd)

    # -- what may be added ------------------------------------------------------------------
    def add_line(self, line: PlanLine, *, finished: bool = False) -> int:
        """Add a step to the plan and return its index. ``finished``: an earlier run did it,
        so it costs nothing now and the budget check leaves it out. A training step that will
        not run is given its reason when it has none (fine-tuning off, or its model given)."""
        if not line.will_run and line.reason is None and line.kind != "inference":
            reason = (
                "a fine-tuned model is given in the config (fine_tuned_models)"
                if self.config.finetune.enabled
                else FINETUNE_OFF
            )
            line = line.model_copy(update={"reason": reason})
        self._plan.append(line)
        index = len(self._plan) - 1
        if finished:
            self._finished.add(index)
        return index

    def replace_line(self, index: int, line: PlanLine) -> PlanLine:
        """Price step ``index`` again (its model became known); returns the old line."""
        old = self._plan[index]
        self._plan[index] = line
        return old

    def add_model(self, truth: str, arm: str, model: str | None) -> None:
        """The model fine-tuning arm ``arm`` trained (or found) for ``truth``."""
        self._models[(truth, arm)] = model

    def add_dataset(self, name: str, result: DatasetResult) -> None:
        """One truth's results."""
        self.results.datasets[name] = result

    # -- what may be read -------------------------------------------------------------------
    @property
    def plan(self) -> list[PlanLine]:
        """The plan so far (a copy)."""
        return list(self._plan)

    def model(self, truth: str, arm: str) -> str | None:
        """The model of arm ``arm`` on ``truth`` (``None``: none known yet)."""
        return self._models.get((truth, arm))

    def models(self, truth: str) -> dict[str, str | None]:
        """Every known arm model on ``truth``, by arm."""
        return {arm: m for (name, arm), m in self._models.items() if name == truth}

    def check_budget(self) -> None:
        """Stop before anything is sent unless every paid step still to run fits the budget."""
        todo = [line for i, line in enumerate(self._plan) if i not in self._finished]
        check_budget(
            todo, self.config.budget_usd, allow_unknown_cost=self.config.allow_unknown_cost
        )
        # what requests may spend in flight: the budget less what training steps will cost
        self.spend.reserved_usd = sum(
            line.usd or 0.0 for line in todo if line.will_run and line.kind == "training"
        )
        self.spend.planned_usd = planned_total(todo)[0]
        self.spend.worst_case_usd = worst_case_total(todo)

    def probe(self) -> ProbeSet | None:
        """The source's probe set, loaded once when a probe truth asks for it."""
        if self._probe is None and any(t.kind == "probe" for t in self.config.truth.values()):
            from llmrec.experiment.truths import load_source_probe

            self._probe = load_source_probe(self.config.data)
        return self._probe

    def probe_for(self, spec: TruthSpec) -> ProbeSet | None:
        """The probe set if ``spec`` is a probe truth, else ``None``."""
        return self.probe() if spec.kind == "probe" else None

    def free_server(self) -> bool:
        """Whether the experiment's server is said to bill nothing (never inferred)."""
        config = self.config
        if config.free and not (config.base_url or os.environ.get("OPENAI_BASE_URL")):
            raise ConfigError(
                "free = true says the server at base_url bills nothing, but no base_url (nor "
                "$OPENAI_BASE_URL) is set, so requests would go to https://api.openai.com/v1, "
                "which bills; set base_url to your own server or remove free = true"
            )
        return config.free

    def run_settings(self) -> RunSettings:
        """What every language-model backend of the run shares (template, cache, server)."""
        from llmrec.recommenders.capabilities import RunSettings

        return RunSettings(
            template=self.config.template,
            cache_path=self.out / "llm-cache.sqlite",
            base_url=self.config.base_url,
            keyless_server=self.config.base_url is not None,
            free=self.free_server(),
            prices=self.config.prices or None,
            fail_fast=self.config.fail_fast,
            spend_limit=self.spend,
        )

    def training_prices(self, model: str, *, free: bool = False) -> tuple[PriceTable, bool]:
        """The price table for a fine-tuning estimate of ``model``, and whether it prices it.

        A model without a training price (or a free server, ``free=True``) is priced at 0 so
        its tokens are still counted; the second value says whether the USD figure is real."""
        from llmrec.openai_api.prices import ModelPrice, merge_prices, training_price

        table = self.config.price_table()
        try:
            training_price(model, table)
            priced = True
        except ConfigError:
            priced = False
        if free or not priced:
            table = merge_prices({model: ModelPrice(input=0.0, output=0.0, training=0.0)}, table)
        return table, priced and not free

    def openai_client(self) -> Any:
        """The hosted fine-tuning client: the one key rule; a ``base_url`` server needs no key."""
        from llmrec.openai_api.client import make_client

        return make_client(
            base_url=self.config.base_url,
            keyless_ok=self.config.base_url is not None,
            sdk_retries=None,
        )

    def read_json(self, relative: str) -> dict[str, Any]:
        """A JSON artifact of the run, by its path inside the output folder."""
        data: dict[str, Any] = json.loads((self.out / relative).read_text("utf-8"))
        return data
