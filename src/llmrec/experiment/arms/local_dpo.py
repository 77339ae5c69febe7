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

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec.experiment.arms._local import LocalFollowUpArm, compute_sentence
from llmrec.experiment.arms._pairs import pair_paths, pairs_text, write_pairs
from llmrec.experiment.config.finetune import LocalDPO

if TYPE_CHECKING:
    from llmrec.experiment.arms.base import Record
    from llmrec.experiment.arms.staged import ArmStep
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext

__all__ = ["LocalDPOArm"]


class LocalDPOArm(LocalFollowUpArm[LocalDPO]):
    """``[finetune.local.dpo]``: DPO of the local SFT arm, the SFT model as reference."""

    method = "dpo"
    how_to_add = (
        "add [finetune.local.dpo] (beta, rejected, epochs, ...) with finetune.provider = "
        "'local' and finetune.enabled = true"
    )
    stage = "finetune-dpo"
    tag = "dpo"
    does = "preference-tunes"
    otherwise = " (or use [finetune.dpo] for a hosted DPO job)"
    needs = "the SFT arm it starts from (its reference model)"

    @property
    def dpo(self) -> LocalDPO:
        """``[finetune.local.dpo]``."""
        return self.settings

    def files_key(self, record: Record) -> str:
        return str(record["dpo"]["key"])

    @staticmethod
    def _val(ctx: RunContext, name: str, info: Record) -> Path | None:
        path = ctx.out / pair_paths(name)["val"]
        return path if path.is_file() and "val" in info["files"] else None

    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        from llmrec.finetune.local.dpo import plan_local_dpo

        dpo, name = self.dpo, truth.name
        info = write_pairs(ctx, truth, data, dpo)
        config = self.train_config()
        given = self.config.finetune.fine_tuned_models.get(name)
        # planned on the base model (same tokenizer, template and size) unless SFT is given
        dry = plan_local_dpo(
            ctx.out / pair_paths(name)["train"],
            given or self.local.model,
            validation=self._val(ctx, name, info),
            config=config,
        )
        what = f"DPO of the SFT arm locally (beta {config.beta:g}, rejected {dpo.rejected})"
        compute = self.add_compute_line(ctx, f"{what} on {name}", dry)
        info.update(
            {
                "beta": config.beta,
                "rejected": dpo.rejected,
                "epochs": config.epochs,
                "pairs": dry.examples,
                **compute,
            }
        )
        return {"dpo": info}

    def run_training(self, step: ArmStep, key: str) -> None:
        from llmrec.finetune.local import train_local_dpo

        sft_model = str(step.models["sft"])
        manifest = train_local_dpo(
            step.out / pair_paths(step.name)["train"],
            sft_model,
            step.out / self.folder(step.name, key),
            validation=self._val(step.ctx, step.name, step.record["dpo"]),
            config=self.train_config(),
            progress=step.ctx.progress,
        )
        self.save_trained(
            step,
            key,
            manifest,
            hash_name="adapter_sha256",
            reference=sft_model,
            final_loss=manifest.final_loss,
        )

    @classmethod
    def report_lines(cls, record: Record) -> list[str]:
        info = record.get("dpo")
        if not info:
            return []
        trained = info.get("adapter_sha256")
        return [
            f"DPO arm: the SFT arm preference-tuned locally (beta {info.get('beta')}, "
            f"{info.get('epochs')} epochs) on {pairs_text(info)}, the SFT model as reference; "
            + (f"adapter sha256 {str(trained)[:12]}." if trained else "not trained in this run."),
            "",
            compute_sentence(
                f"DPO compute: about {info.get('flops', 0.0):.3g} training FLOPs (8 x "
                f"{info.get('parameters', 0):,} parameters x {info.get('tokens', 0):,} tokens)",
                info,
            ),
            "",
        ]
