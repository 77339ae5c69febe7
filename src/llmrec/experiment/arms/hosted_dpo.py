"""A hosted DPO arm: ``[finetune.dpo]`` with ``provider = "openai"``.

For every truth the arm writes the same preference files as the local DPO arm (:mod:`._pairs`:
chosen = the gold list, rejected from the named builder, from the train and validation splits),
prices a DPO job on them from the exact token count of both answers of every pair
(:func:`llmrec.finetune.estimate_preference_cost`) in the run's plan, and, once the run fits its
budget, starts the job with :class:`~llmrec.finetune.FineTuner` (``method="dpo"``) from
``[finetune.dpo] model``, by default the SFT arm's fine-tuned model. Like the SFT job it keeps a
manifest (``finetune/NAME.dpo.manifest.json``), so an interrupted run follows the same job, and
its model id is the stage ``finetune-dpo-job:NAME``, so a rerun sends nothing. Backends run its
model with ``arm = "dpo"`` in their table (for example ``openai-fine-tuned``).

OpenAI documents DPO for the gpt-4.1 family only (:data:`~llmrec.finetune.DPO_MODELS`); another
base is a config error unless ``allow_unlisted_model = true``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmrec.errors import ConfigError
from llmrec.experiment.arms._hosted import HostedJobArm, cost_text
from llmrec.experiment.arms._pairs import pair_paths, pairs_text, write_pairs
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from pathlib import Path

    from typing_extensions import Self

    from llmrec.experiment.arms.base import Record
    from llmrec.experiment.arms.staged import ArmStep
    from llmrec.experiment.config import ExperimentConfig, HostedDPO
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext
    from llmrec.openai_api.prices import PriceTable

__all__ = ["HostedDPOArm"]


class HostedDPOArm(HostedJobArm):
    """``[finetune.dpo]``: a hosted DPO job on the train split's preference pairs."""

    method = "dpo"
    how_to_add = (
        "add [finetune.dpo] (model, beta, rejected, ...) with finetune.provider = 'openai' and "
        "finetune.enabled = true"
    )
    stage = "finetune-dpo-job"
    missing = "needs the DPO arm's model: enable finetune or set [finetune.dpo] fine_tuned_models"
    records_start = True

    def __init__(self, config: ExperimentConfig, dpo: HostedDPO) -> None:
        super().__init__(config)
        self.dpo = dpo

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> Self | None:
        dpo = config.finetune.dpo
        return None if dpo is None else cls(config, dpo)

    @classmethod
    def config_problems(cls, config: ExperimentConfig, *, selected: bool) -> list[str]:
        from llmrec.finetune import DPO_MODELS
        from llmrec.finetune.dpo_models import check_dpo_model

        dpo = config.finetune.dpo
        if dpo is None:
            return []
        if not selected:
            return [
                "[finetune.dpo] is a hosted DPO job: set finetune.provider = 'openai', or use "
                "[finetune.local.dpo] to train the DPO arm on this machine"
            ]
        start = dpo.model or config.finetune.model
        try:
            check_dpo_model(start, allow_unlisted=dpo.allow_unlisted_model)
        except ConfigError:
            return [
                f"[finetune.dpo] starts a DPO job from {start!r}, but OpenAI documents DPO only "
                f"for {', '.join(DPO_MODELS)}; set [finetune] model (the SFT arm's base) or "
                "[finetune.dpo] model to one of them, or allow_unlisted_model = true if your "
                "provider accepts it"
            ]
        return []

    # -- settings ---------------------------------------------------------------------------
    @property
    def settings(self) -> HostedDPO:
        return self.dpo

    @property
    def price_model(self) -> str:
        return self.dpo.model or self.config.finetune.model

    def _start_identity(self, name: str) -> Any:
        """What the job starts from, known before any job ran: the given model, or the SFT
        arm's (given, or made by the SFT job these settings describe)."""
        ft = self.config.finetune
        if self.dpo.model is not None:
            return self.dpo.model
        if name in ft.fine_tuned_models:
            return ft.fine_tuned_models[name]
        return ft.model_dump(mode="json", exclude={"poll_interval", "dpo", "fine_tuned_models"})

    def job_key(self, name: str, files_key: str) -> str:
        settings = self.dpo.model_dump(mode="json", exclude={"fine_tuned_models"})
        return stage_key(files_key, settings, self._start_identity(name), "dpo-job")

    def files(self, record: Record) -> Record:
        return record["dpo"]  # type: ignore[no-any-return]

    def record_path(self, name: str) -> str:
        return pair_paths(name)["record"]

    def manifest_path(self, name: str) -> str:
        return f"finetune/{name}.dpo.manifest.json"

    def job_files(self, step: ArmStep) -> tuple[Path, Path | None]:
        paths = pair_paths(step.name)
        val = step.out / paths["val"] if "val" in step.record["dpo"]["files"] else None
        return step.out / paths["train"], val

    def start_model(self, step: ArmStep) -> str | None:
        return self.dpo.model or step.models.get("sft")

    def job_options(self, step: ArmStep, table: PriceTable) -> dict[str, Any]:
        return {
            "estimate": self._estimate(step.ctx, step.name, table),
            "method": "dpo",
            "beta": self.dpo.beta,
            "allow_unlisted_dpo_model": self.dpo.allow_unlisted_model,
        }

    def _estimate(self, ctx: RunContext, name: str, table: PriceTable) -> Any:
        from llmrec.finetune import estimate_preference_cost

        return estimate_preference_cost(
            ctx.out / pair_paths(name)["train"],
            model=self.price_model,
            n_epochs=self.dpo.n_epochs,
            prices=table,
        )

    # -- the arm ----------------------------------------------------------------------------
    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        dpo, name, free = self.dpo, truth.name, ctx.free_server()
        info = write_pairs(ctx, truth, data, dpo)
        table, priced = ctx.training_prices(self.price_model, free=free)
        est = self._estimate(ctx, name, table)
        usd = 0.0 if free else (est.usd if priced else None)
        info.update(
            {
                "provider": "openai",
                "start_model": dpo.model,
                "beta": dpo.beta,
                "rejected": dpo.rejected,
                "n_epochs": dpo.n_epochs,
                "pairs": est.n_examples,
                "train_tokens": est.total_tokens,
                "billed_tokens": est.billed_tokens,
                "training_cost_usd": usd,
            }
        )
        what = f"DPO job from {dpo.model or 'the SFT model'} on {name}"
        self.add_job_line(ctx, name, what, info, usd)
        return {"dpo": info}

    def trained_fields(self, step: ArmStep, trained: Record, key: str) -> dict[str, Any]:
        return {"dpo": {**step.record["dpo"], **trained}}

    @classmethod
    def report_lines(cls, record: Record) -> list[str]:
        info = record.get("dpo")
        if not info:
            return []
        beta = "auto" if info.get("beta") is None else f"{info['beta']:g}"
        start = info.get("reference") or info.get("start_model") or "the SFT model"
        model = info.get("fine_tuned_model")
        return [
            f"DPO arm: a hosted DPO job (beta {beta}, {info.get('n_epochs')} epochs) from "
            f"`{start}` on {pairs_text(info)}; {info.get('billed_tokens', 0):,} billed tokens cost "
            + f"{cost_text(info.get('training_cost_usd'))} at list price; "
            + (f"model `{model}`." if model else "not trained in this run."),
            "",
        ]
