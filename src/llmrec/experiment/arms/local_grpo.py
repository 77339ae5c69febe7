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

from typing import TYPE_CHECKING, Any

from llmrec.experiment.arms._local import LocalFollowUpArm, compute_sentence
from llmrec.experiment.config.finetune import LocalGRPO

if TYPE_CHECKING:
    from llmrec.experiment.arms.base import Record
    from llmrec.experiment.arms.staged import ArmStep
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext

__all__ = ["LocalGRPOArm"]


def _catalog_path(name: str) -> str:
    return f"finetune/{name}.grpo-catalog.jsonl"


class LocalGRPOArm(LocalFollowUpArm[LocalGRPO]):
    """``[finetune.local.grpo]``: GRPO of the local SFT arm with a ranking-metric reward."""

    method = "grpo"
    how_to_add = (
        "add [finetune.local.grpo] (reward, num_generations, beta, epochs, ...) with "
        "finetune.provider = 'local' and finetune.enabled = true"
    )
    stage = "finetune-grpo"
    tag = "grpo"
    does = "trains"

    @property
    def grpo(self) -> LocalGRPO:
        """``[finetune.local.grpo]``."""
        return self.settings

    def key_parts(self) -> tuple[Any, ...]:
        return (self.config.template.model_dump(mode="json"),)  # the prompts it samples from

    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        from llmrec.finetune.local.grpo import plan_local_grpo

        name, config = truth.name, self.train_config()
        catalog_path = ctx.out / _catalog_path(name)
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
        what = (
            f"GRPO of the SFT arm locally (reward {config.reward}, {config.num_generations} "
            f"answers x {dry.examples} prompts x {dry.optimizer_steps} steps) on {name}"
        )
        compute = self.add_compute_line(ctx, what, dry)
        return {
            "grpo": {
                "reward": config.reward,
                "num_generations": config.num_generations,
                "beta": config.beta,
                "temperature": config.temperature,
                "max_new_tokens": config.max_new_tokens,
                "epochs": config.epochs,
                "prompts": dry.examples,
                "flops_factor": dry.flops_factor,
                **compute,
            }
        }

    def run_training(self, step: ArmStep, key: str) -> None:
        from llmrec.data.catalog import Catalog
        from llmrec.finetune.local import train_local_grpo

        sft_model = str(step.models["sft"])
        manifest = train_local_grpo(
            step.out / step.record["train_file"],
            sft_model,
            step.out / self.folder(step.name, key),
            catalog=Catalog.load(step.out / _catalog_path(step.name)),
            template=self.config.template,
            config=self.train_config(),
            progress=step.ctx.progress,
        )
        curve = manifest.rewards
        self.save_trained(
            step,
            key,
            manifest,
            hash_name="weights_sha256",
            reference=sft_model,
            reward_first=curve[0].reward if curve else None,
            reward_last=curve[-1].reward if curve else None,
        )

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
            compute_sentence(
                f"GRPO compute: about {info.get('flops', 0.0):.3g} FLOPs "
                f"({info.get('flops_factor')} x {info.get('parameters', 0):,} parameters x "
                f"{info.get('tokens', 0):,} tokens, answers counted at their longest)",
                info,
            ),
            "",
        ]
