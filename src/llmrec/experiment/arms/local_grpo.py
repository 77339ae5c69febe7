"""The GRPO arm on this machine: reinforcement learning of the locally trained SFT arm.

With ``[finetune.local.grpo]`` (``reward``, ``num_generations``, ``beta``, ``temperature``,
``max_new_tokens``, the penalties, ``epochs``, ... : every
:class:`~llmrec.finetune.local.LocalTrainConfig` field, method fixed to ``"grpo"``) the arm, for
every truth:

1. plans on the SFT arm's own chat file of the train split (its prompts, and its assistant turns
   as the gold lists the reward scores against), keeping the catalog beside it
   (``finetune/NAME.grpo-catalog.jsonl``) to resolve the answers' titles; the plan line gives
   the tokens (prompts x ``num_generations`` x (prompt + ``max_new_tokens``) an epoch), FLOPs
   and GPU-hours before anything trains (:mod:`llmrec.finetune.local.grpo`);
2. once the SFT arm is trained, runs :func:`llmrec.finetune.local.train_local_grpo` on it into
   ``finetune/NAME.grpo-KEY/`` - the stage ``finetune-grpo:NAME``, resumable from its
   checkpoints and reused when finished;
3. gives that folder to every backend with ``arm = "grpo"`` (e.g. ``transformers`` with
   ``fine_tuned = true`` and ``arm = "grpo"``).

Zero-shot, SFT, DPO and GRPO run on the same test users, and the report tests every pair of
language-model arms (:mod:`llmrec.experiment.arm_tests`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec._io import write_json_atomic
from llmrec.experiment.arms.base import FineTuningArm, Record, Trained
from llmrec.experiment.plan import gpu_hours, local_training_line
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from typing_extensions import Self

    from llmrec.experiment.config import ExperimentConfig, LocalFineTune, LocalGRPO
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext
    from llmrec.finetune.local.config import LocalTrainConfig

__all__ = ["LocalGRPOArm"]


def _paths(name: str) -> dict[str, str]:
    return {
        "catalog": f"finetune/{name}.grpo-catalog.jsonl",
        "record": f"finetune/{name}.grpo.json",
    }


class LocalGRPOArm(FineTuningArm):
    """``[finetune.local.grpo]``: GRPO of the local SFT arm with a ranking-metric reward."""

    provider = "local"
    method = "grpo"
    how_to_add = (
        "add [finetune.local.grpo] (reward, num_generations, beta, epochs, ...) with "
        "finetune.provider = 'local' and finetune.enabled = true"
    )

    def __init__(self, config: ExperimentConfig, local: LocalFineTune, grpo: LocalGRPO) -> None:
        super().__init__(config)
        self.local = local
        self.grpo = grpo

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> Self | None:
        local = config.finetune.local
        if local is None or local.grpo is None:
            return None
        return cls(config, local, local.grpo)

    @classmethod
    def config_problems(cls, config: ExperimentConfig, *, selected: bool) -> list[str]:
        ft = config.finetune
        local = ft.local
        grpo = local.grpo if local is not None else None
        found: list[str] = []
        if local is not None and local.method == "grpo":
            found.append(
                "[finetune.local] method = 'grpo': the SFT arm is supervised (lora, qlora or "
                "full); put the GRPO arm's settings in [finetune.local.grpo]"
            )
        if grpo is not None and not selected:
            found.append(
                "[finetune.local.grpo] trains the SFT arm trained on this machine: set "
                "finetune.provider = 'local'"
            )
        elif grpo is not None and not ft.enabled:
            found.append(
                "[finetune.local.grpo] needs the SFT arm it starts from: set "
                "finetune.enabled = true"
            )
        return found

    def _train_config(self) -> LocalTrainConfig:
        """The GRPO settings; a LoRA SFT arm's adapter keeps training, and a chat template
        given to the SFT arm is the one its folder carries."""
        local = self.local
        update: dict[str, Any] = {}
        if local.method in ("lora", "qlora"):
            update.update(lora_r=local.lora_r, lora_target_modules=local.lora_target_modules)
        if self.grpo.chat_template is None and local.chat_template is not None:
            update["chat_template"] = local.chat_template
        return self.grpo.train_config().model_copy(update=update)

    def _train_key(self, ctx: RunContext, name: str, files_key: str, sft_model: str) -> str:
        """Keyed by the GRPO settings, the files and the SFT model it starts from (path and
        content)."""
        from llmrec.local_models.fingerprint import folder_sha256

        sft_hash: str | None = None
        saved = f"finetune/{name}.local.json"
        trained = ctx.read_json(saved) if (ctx.out / saved).is_file() else {}
        if trained.get("fine_tuned_model") == sft_model:
            sft_hash = trained.get("weights_sha256")
        elif Path(sft_model).is_dir():
            sft_hash = folder_sha256(sft_model)
        config = self._train_config().model_dump(mode="json")
        template = self.config.template.model_dump(mode="json")
        return stage_key(files_key, config, template, sft_model, sft_hash)

    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        from llmrec.finetune.local.grpo import plan_local_grpo

        name, config = truth.name, self._train_config()
        catalog_path = ctx.out / _paths(name)["catalog"]
        catalog_path.parent.mkdir(parents=True, exist_ok=True)
        data.catalog.save(catalog_path)
        given = self.config.finetune.fine_tuned_models.get(name)
        dry = plan_local_grpo(
            ctx.out / record["train_file"],
            given or self.local.model,
            catalog=data.catalog,
            template=self.config.template,
            config=config,
        )
        ctx.add_line(
            local_training_line(
                f"GRPO of the SFT arm locally (reward {config.reward}, {config.num_generations} "
                f"answers x {dry.examples} prompts x {dry.optimizer_steps} steps) on {name}",
                dry,
                self.local.assumed_tflops,
                will_run=self.config.finetune.enabled,
            )
        )
        return {
            "grpo": {
                "reward": config.reward,
                "num_generations": config.num_generations,
                "beta": config.beta,
                "temperature": config.temperature,
                "max_new_tokens": config.max_new_tokens,
                "epochs": config.epochs,
                "prompts": dry.examples,
                "tokens": dry.tokens,
                "parameters": dry.parameters,
                "trainable_parameters": dry.trainable_parameters,
                "flops": dry.flops,
                "flops_factor": dry.flops_factor,
                "assumed_tflops": self.local.assumed_tflops,
                "gpu_hours": gpu_hours(dry.flops, self.local.assumed_tflops),
                "optimizer_steps": dry.optimizer_steps,
            }
        }

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
        key = self._train_key(ctx, truth.name, record["key"], sft_model)
        if not ctx.store.is_done(f"finetune-grpo:{truth.name}", key):
            return None
        return str(ctx.read_json(_paths(truth.name)["record"])["fine_tuned_model"])

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
        from llmrec.data.catalog import Catalog
        from llmrec.finetune.local import train_local_grpo
        from llmrec.local_models.fingerprint import folder_sha256

        sft_model = models.get("sft")
        if ctx.dry_run or sft_model is None or not self.config.finetune.enabled:
            return None, {}
        out, name, paths = ctx.out, truth.name, _paths(truth.name)
        key = self._train_key(ctx, name, record["key"], sft_model)
        folder = f"finetune/{name}.grpo-{key}"
        config = self._train_config()

        def work() -> None:
            manifest = train_local_grpo(
                out / record["train_file"],
                sft_model,
                out / folder,
                catalog=Catalog.load(out / paths["catalog"]),
                template=self.config.template,
                config=config,
                progress=ctx.progress,
            )
            curve = manifest.rewards
            write_json_atomic(
                out / paths["record"],
                {
                    "fine_tuned_model": str((out / folder).resolve()),
                    "reference": sft_model,
                    "weights_sha256": folder_sha256(out / folder),
                    "status": manifest.status,
                    "tokens_seen": manifest.tokens_seen,
                    "reward_first": curve[0].reward if curve else None,
                    "reward_last": curve[-1].reward if curve else None,
                    "wall_seconds": manifest.wall_seconds,
                    "device": manifest.device,
                },
            )

        ctx.store.run(f"finetune-grpo:{name}", key, [paths["record"]], work)
        trained = ctx.read_json(paths["record"])
        return str(trained["fine_tuned_model"]), {
            "grpo": {**record["grpo"], "folder": folder, **trained}
        }

    @classmethod
    def report_lines(cls, record: Record) -> list[str]:
        info = record.get("grpo")
        if not info:
            return []
        trained = info.get("weights_sha256")
        curve = ""
        if info.get("reward_first") is not None:
            curve = (
                f" Mean reward of the sampled answers: {info['reward_first']:.3f} at the first "
                f"step, {info['reward_last']:.3f} at the last."
            )
        return [
            f"GRPO arm: the SFT arm trained locally with GRPO (reward {info.get('reward')}, "
            f"{info.get('num_generations')} answers per prompt, beta {info.get('beta')}, "
            f"temperature {info.get('temperature')}, {info.get('epochs')} epochs) on "
            f"{info.get('prompts', 0):,} prompts of the train split, the gold lists as the "
            "reward's reference; "
            + (f"weights sha256 {str(trained)[:12]}." if trained else "not trained in this run.")
            + curve,
            "",
            f"GRPO compute: about {info.get('flops', 0.0):.3g} FLOPs ({info.get('flops_factor')} "
            f"x {info.get('parameters', 0):,} parameters x {info.get('tokens', 0):,} tokens, "
            "answers counted at their longest), about "
            f"{info.get('gpu_hours', 0.0):.3g} GPU-hours at an assumed "
            f"{info.get('assumed_tflops', 0.0):g} TFLOP/s sustained"
            + (
                f"; measured here: {info['wall_seconds']:.0f} s on {info.get('device')}."
                if info.get("wall_seconds") is not None
                else "."
            ),
            "",
        ]
