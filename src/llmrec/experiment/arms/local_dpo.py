"""The DPO arm on this machine: preference tuning of the locally trained SFT arm.

With ``[finetune.local.dpo]`` (``beta``, ``rejected``, ``epochs``, ... : every
:class:`~llmrec.finetune.local.LocalTrainConfig` field, method fixed to ``"dpo"``) the arm, for
every truth:

1. writes preference files from the train (and validation) split (:mod:`._pairs`, the stage
   ``dpo-files:NAME``, free, so a dry run counts its tokens exactly);
2. once the SFT arm is trained, runs :func:`llmrec.finetune.local.train_local_dpo` on it with
   the SFT model as the reference into ``finetune/NAME.dpo-KEY/`` - the stage
   ``finetune-dpo:NAME``, resumable from its checkpoints and reused when finished;
3. gives that folder to every backend that asks for the DPO model (``uses_dpo_model``, e.g.
   ``transformers`` with ``fine_tuned = "dpo"``); ``fine_tuned = true`` stays the SFT arm.

The plan has a compute line for it like the SFT arm's (tokens, FLOPs by the ``8 x parameters x
tokens`` rule of :mod:`llmrec.finetune.local.estimate`: policy forward and backward plus the
reference's forward; GPU-hours at ``assumed_tflops``; 0 USD). Zero-shot, SFT and DPO run on the
same test users, and the report tests every pair of language-model arms
(:mod:`llmrec.experiment.arm_tests`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec._io import write_json_atomic
from llmrec.experiment.arms._pairs import pair_paths, write_pairs
from llmrec.experiment.arms.base import FineTuningArm, Record, Trained
from llmrec.experiment.plan import gpu_hours, local_training_line
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from typing_extensions import Self

    from llmrec.experiment.config import ExperimentConfig, LocalDPO, LocalFineTune
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext
    from llmrec.finetune.local.config import LocalTrainConfig

__all__ = ["LocalDPOArm"]


class LocalDPOArm(FineTuningArm):
    """``[finetune.local.dpo]``: DPO of the local SFT arm, the SFT model as reference."""

    provider = "local"
    method = "dpo"
    how_to_add = (
        "add [finetune.local.dpo] (beta, rejected, epochs, ...) with finetune.provider = "
        "'local' and finetune.enabled = true"
    )

    def __init__(self, config: ExperimentConfig, local: LocalFineTune, dpo: LocalDPO) -> None:
        super().__init__(config)
        self.local = local
        self.dpo = dpo

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> Self | None:
        local = config.finetune.local
        if local is None or local.dpo is None:
            return None
        return cls(config, local, local.dpo)

    @classmethod
    def config_problems(cls, config: ExperimentConfig, *, selected: bool) -> list[str]:
        ft = config.finetune
        local = ft.local
        dpo = local.dpo if local is not None else None
        found: list[str] = []
        if local is not None and local.method == "dpo":
            found.append(
                "[finetune.local] method = 'dpo': the SFT arm is supervised (lora, qlora or "
                "full); put the DPO arm's settings in [finetune.local.dpo]"
            )
        if dpo is not None and not selected:
            found.append(
                "[finetune.local.dpo] preference-tunes the SFT arm trained on this machine: set "
                "finetune.provider = 'local' (or use [finetune.dpo] for a hosted DPO job)"
            )
        elif dpo is not None and not ft.enabled:
            found.append(
                "[finetune.local.dpo] needs the SFT arm it starts from (its reference model): "
                "set finetune.enabled = true"
            )
        return found

    def _train_config(self) -> LocalTrainConfig:
        """The DPO settings; a LoRA SFT arm's adapter keeps training (its rank and targets
        count), and a chat template given to the SFT arm is the one its folder carries."""
        local = self.local
        update: dict[str, Any] = {}
        if local.method in ("lora", "qlora"):
            update.update(lora_r=local.lora_r, lora_target_modules=local.lora_target_modules)
        if self.dpo.chat_template is None and local.chat_template is not None:
            update["chat_template"] = local.chat_template
        return self.dpo.train_config().model_copy(update=update)

    def _train_key(self, ctx: RunContext, name: str, files_key: str, sft_model: str) -> str:
        """Keyed by the DPO settings and the SFT model it starts from (path and content)."""
        from llmrec.local_models.fingerprint import folder_sha256

        sft_hash: str | None = None
        saved = f"finetune/{name}.local.json"
        trained = ctx.read_json(saved) if (ctx.out / saved).is_file() else {}
        if trained.get("fine_tuned_model") == sft_model:
            sft_hash = trained.get("weights_sha256")
        elif Path(sft_model).is_dir():
            sft_hash = folder_sha256(sft_model)
        config = self._train_config().model_dump(mode="json")
        return stage_key(files_key, config, sft_model, sft_hash)

    @staticmethod
    def _val(ctx: RunContext, name: str, info: Record) -> Path | None:
        path = ctx.out / pair_paths(name)["val"]
        return path if path.is_file() and "val" in info["files"] else None

    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        from llmrec.finetune.local.dpo import plan_local_dpo

        dpo, local, name = self.dpo, self.local, truth.name
        info = write_pairs(
            ctx, truth, data.ratings, data.catalog, rejected=dpo.rejected, seed=dpo.seed
        )
        config = self._train_config()
        paths = pair_paths(name)
        val = self._val(ctx, name, info)
        given = self.config.finetune.fine_tuned_models.get(name)
        # planned on the base model (same tokenizer, template and size) unless SFT is given
        dry = plan_local_dpo(
            ctx.out / paths["train"], given or local.model, validation=val, config=config
        )
        ctx.add_line(
            local_training_line(
                f"DPO of the SFT arm locally (beta {config.beta:g}, rejected {dpo.rejected}) "
                f"on {name}",
                dry,
                local.assumed_tflops,
                will_run=self.config.finetune.enabled,
            )
        )
        info.update(
            {
                "beta": config.beta,
                "rejected": dpo.rejected,
                "epochs": config.epochs,
                "pairs": dry.examples,
                "tokens": dry.tokens,
                "parameters": dry.parameters,
                "trainable_parameters": dry.trainable_parameters,
                "flops": dry.flops,
                "assumed_tflops": local.assumed_tflops,
                "gpu_hours": gpu_hours(dry.flops, local.assumed_tflops),
                "optimizer_steps": dry.optimizer_steps,
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
        sft_model = models.get("sft")
        if sft_model is None or not self.config.finetune.enabled:
            return None
        key = self._train_key(ctx, truth.name, record["dpo"]["key"], sft_model)
        if not ctx.store.is_done(f"finetune-dpo:{truth.name}", key):
            return None
        return str(ctx.read_json(pair_paths(truth.name)["record"])["fine_tuned_model"])

    def stand_in(self, ctx: RunContext) -> tuple[str, str | None]:
        if self.config.finetune.enabled:
            return self.local.model, None
        return self.local.model, "needs a fine-tuned model: enable finetune (provider local)"

    def train(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> Trained:
        from llmrec.finetune.local import train_local_dpo
        from llmrec.local_models.fingerprint import folder_sha256

        sft_model = models.get("sft")
        if ctx.dry_run or sft_model is None or not self.config.finetune.enabled:
            return None, {}
        out, name, info = ctx.out, truth.name, record["dpo"]
        paths = pair_paths(name)
        val = self._val(ctx, name, info)
        key = self._train_key(ctx, name, info["key"], sft_model)
        folder = f"finetune/{name}.dpo-{key}"
        config = self._train_config()

        def work() -> None:
            manifest = train_local_dpo(
                out / paths["train"],
                sft_model,
                out / folder,
                validation=val,
                config=config,
                progress=ctx.progress,
            )
            write_json_atomic(
                out / paths["record"],
                {
                    "fine_tuned_model": str((out / folder).resolve()),
                    "reference": sft_model,
                    "adapter_sha256": folder_sha256(out / folder),
                    "status": manifest.status,
                    "tokens_seen": manifest.tokens_seen,
                    "final_loss": manifest.final_loss,
                    "wall_seconds": manifest.wall_seconds,
                    "device": manifest.device,
                },
            )

        ctx.store.run(f"finetune-dpo:{name}", key, [paths["record"]], work)
        trained = ctx.read_json(paths["record"])
        return str(trained["fine_tuned_model"]), {"dpo": {**info, "folder": folder, **trained}}

    @classmethod
    def report_lines(cls, record: Record) -> list[str]:
        info = record.get("dpo")
        if not info:
            return []
        train = info.get("files", {}).get("train", {})
        dropped = ", ".join(f"{n:,} {why}" for why, n in sorted(train.get("dropped", {}).items()))
        trained = info.get("adapter_sha256")
        return [
            f"DPO arm: the SFT arm preference-tuned locally (beta {info.get('beta')}, "
            f"{info.get('epochs')} epochs) on {train.get('n_pairs', 0):,} pairs from the train "
            f"split (chosen: the gold list; rejected: {info.get('rejected')} lists"
            + (f"; dropped {dropped}" if dropped else "")
            + "), the SFT model as reference; "
            + (f"adapter sha256 {str(trained)[:12]}." if trained else "not trained in this run."),
            "",
            f"DPO compute: about {info.get('flops', 0.0):.3g} training FLOPs (8 x "
            f"{info.get('parameters', 0):,} parameters x {info.get('tokens', 0):,} tokens), "
            f"about {info.get('gpu_hours', 0.0):.3g} GPU-hours at an assumed "
            f"{info.get('assumed_tflops', 0.0):g} TFLOP/s sustained"
            + (
                f"; measured here: {info['wall_seconds']:.0f} s on {info.get('device')}."
                if info.get("wall_seconds") is not None
                else "."
            ),
            "",
        ]
