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

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmrec._io import write_json_atomic
from llmrec.errors import ConfigError
from llmrec.experiment.arms._pairs import pair_paths, write_pairs
from llmrec.experiment.arms.base import FineTuningArm, Record, Trained
from llmrec.experiment.plan import PlanLine
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from typing_extensions import Self

    from llmrec.experiment.config import ExperimentConfig, HostedDPO
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext

__all__ = ["HostedDPOArm"]


class HostedDPOArm(FineTuningArm):
    """``[finetune.dpo]``: a hosted DPO job on the train split's preference pairs."""

    provider = "openai"
    method = "dpo"
    how_to_add = (
        "add [finetune.dpo] (model, beta, rejected, ...) with finetune.provider = 'openai' and "
        "finetune.enabled = true"
    )

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
    def _price_model(self) -> str:
        """The model the job is priced as: its start model's base."""
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

    def _job_key(self, name: str, files_key: str) -> str:
        settings = self.dpo.model_dump(mode="json", exclude={"fine_tuned_models"})
        return stage_key(files_key, settings, self._start_identity(name), "dpo-job")

    # -- the arm ----------------------------------------------------------------------------
    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        from llmrec.finetune import estimate_preference_cost

        dpo, name = self.dpo, truth.name
        info = write_pairs(
            ctx, truth, data.ratings, data.catalog, rejected=dpo.rejected, seed=dpo.seed
        )
        free = ctx.free_server()
        table, priced = ctx.training_prices(self._price_model, free=free)
        est = estimate_preference_cost(
            ctx.out / pair_paths(name)["train"],
            model=self._price_model,
            n_epochs=dpo.n_epochs,
            prices=table,
        )
        usd = 0.0 if free else (est.usd if priced else None)
        line = PlanLine(
            step=f"DPO job from {dpo.model or 'the SFT model'} on {name}",
            requests=1,
            input_tokens=est.billed_tokens,
            output_tokens=0,
            usd=usd,
            will_run=self.config.finetune.enabled and name not in dpo.fine_tuned_models,
            kind="training",
        )
        done = ctx.store.is_done(f"finetune-dpo-job:{name}", self._job_key(name, info["key"]))
        ctx.add_line(line, finished=done)
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
        return {"dpo": info}

    def find(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> str | None:
        name = truth.name
        if name in self.dpo.fine_tuned_models:
            return self.dpo.fine_tuned_models[name]
        key = self._job_key(name, record["dpo"]["key"])
        if self.config.finetune.enabled and ctx.store.is_done(f"finetune-dpo-job:{name}", key):
            model = ctx.read_json(pair_paths(name)["record"]).get("fine_tuned_model")
            return str(model) if model else None
        return None

    def stand_in(self, ctx: RunContext) -> tuple[str, str | None]:
        from llmrec.finetune.job import planned_model_id

        planned = planned_model_id(self._price_model)
        if self.config.finetune.enabled:
            return planned, None  # the job runs first and gives the model
        return planned, (
            "needs the DPO arm's model: enable finetune or set [finetune.dpo] fine_tuned_models"
        )

    def train(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> Trained:
        dpo, name, info = self.dpo, truth.name, record["dpo"]
        if name in dpo.fine_tuned_models:
            return dpo.fine_tuned_models[name], {}
        start = dpo.model or models.get("sft")
        if not self.config.finetune.enabled or ctx.dry_run or start is None:
            return None, {}
        paths = pair_paths(name)
        val = ctx.out / paths["val"] if "val" in info["files"] else None
        known = info["training_cost_usd"] is not None and not ctx.free_server()

        def work() -> None:
            from llmrec.finetune import FineTuner, estimate_preference_cost

            table, _ = ctx.training_prices(self._price_model, free=not known)
            estimate = estimate_preference_cost(
                ctx.out / paths["train"],
                model=self._price_model,
                n_epochs=dpo.n_epochs,
                prices=table,
            )
            tuner = FineTuner(
                ctx.openai_client(),
                manifest=ctx.out / f"finetune/{name}.dpo.manifest.json",
                progress=ctx.progress,
                poll_interval=self.config.finetune.poll_interval,
                prices=table,
            )
            if not tuner.has_job():
                tuner.start(
                    ctx.out / paths["train"],
                    validation_file=val,
                    model=start,
                    n_epochs=dpo.n_epochs,
                    batch_size=dpo.batch_size,
                    learning_rate_multiplier=dpo.learning_rate_multiplier,
                    suffix=dpo.suffix,
                    seed=dpo.seed,
                    max_cost_usd=self.config.budget_usd if known else None,
                    estimate=estimate,
                    method="dpo",
                    beta=dpo.beta,
                    allow_unlisted_dpo_model=dpo.allow_unlisted_model,
                )
            final = tuner.wait()
            write_json_atomic(
                ctx.out / paths["record"],
                {
                    "fine_tuned_model": final.fine_tuned_model,
                    "job_id": final.job_id,
                    "reference": start,
                },
            )

        ctx.store.run(
            f"finetune-dpo-job:{name}", self._job_key(name, info["key"]), [paths["record"]], work
        )
        trained = ctx.read_json(paths["record"])
        model = trained.get("fine_tuned_model")
        return (str(model) if model else None), {"dpo": {**info, **trained}}

    @classmethod
    def report_lines(cls, record: Record) -> list[str]:
        info = record.get("dpo")
        if not info:
            return []
        train = info.get("files", {}).get("train", {})
        dropped = ", ".join(f"{n:,} {why}" for why, n in sorted(train.get("dropped", {}).items()))
        usd = info.get("training_cost_usd")
        cost = "an unknown amount (no training price)" if usd is None else f"{usd:.2f} USD"
        beta = "auto" if info.get("beta") is None else f"{info['beta']:g}"
        start = info.get("reference") or info.get("start_model") or "the SFT model"
        model = info.get("fine_tuned_model")
        return [
            f"DPO arm: a hosted DPO job (beta {beta}, {info.get('n_epochs')} epochs) from "
            f"`{start}` on {train.get('n_pairs', 0):,} pairs from the train split (chosen: the "
            f"gold list; rejected: {info.get('rejected')} lists"
            + (f"; dropped {dropped}" if dropped else "")
            + f"); {info.get('billed_tokens', 0):,} billed tokens cost {cost} at list price; "
            + (f"model `{model}`." if model else "not trained in this run."),
            "",
        ]
