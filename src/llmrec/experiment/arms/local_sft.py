"""The fine-tuned arm trained on this machine: ``finetune.provider = "local"``.

With ``[finetune] provider = "local"`` and ``[finetune.local] model = "..."`` (plus any
:class:`~llmrec.finetune.local.LocalTrainConfig` field: ``method``, ``epochs``, ``batch_size``,
``learning_rate``, ``lora_r``, ...), the arm trains the base model on the experiment's
fine-tuning files with :func:`llmrec.finetune.local.train_local` (resumable; a finished run is
reused) into ``finetune/NAME.local-KEY/`` and gives that folder to every backend that runs the
fine-tuned model (``uses_fine_tuned_model``, e.g. ``transformers`` with ``fine_tuned = true``)
through the capability protocol's ``with_model``. The zero-shot arm is the same backend on the
base model.

Nothing is billed, so the plan and the report give compute instead of USD: tokens seen, training
FLOPs by the usual ``6 x parameters x tokens`` rule (Kaplan et al. 2020) and GPU-hours at an
assumed sustained throughput (``assumed_tflops``, default 100 TFLOP/s: about a third of an A100's
312 dense bf16 TFLOP/s, a typical utilisation for fine-tuning; an estimate, not a measurement).
The report names the base model (and its content hash) and the trained weights' hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec.experiment.arms._local import LocalArm, compute_sentence
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from typing_extensions import Self

    from llmrec.experiment.arms.base import Record
    from llmrec.experiment.arms.staged import ArmStep
    from llmrec.experiment.config import ExperimentConfig
    from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext

__all__ = ["NO_LOCAL", "LocalSFTArm", "base_hash"]

NO_LOCAL = (
    "finetune.provider = 'local' needs the base model: add [finetune.local] with model = "
    "'<hub id or folder>' (and any LocalTrainConfig field: method, epochs, batch_size, ...)"
)


def base_hash(model: str) -> str | None:
    """The content hash of a model folder (``None`` for a hub id)."""
    from llmrec.local_models.fingerprint import folder_sha256

    return folder_sha256(model) if Path(model).is_dir() else None


class LocalSFTArm(LocalArm):
    """``provider = "local"``: supervised training (LoRA, QLoRA or full) of ``[finetune.local]``."""

    method = "sft"
    how_to_add = "set finetune.enabled = true with [finetune.local] (provider 'local')"
    stage = "finetune-local"
    tag = "local"

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> Self | None:
        local = config.finetune.local
        return None if local is None else cls(config, local)

    @classmethod
    def config_problems(cls, config: ExperimentConfig, *, selected: bool) -> list[str]:
        return [NO_LOCAL] if selected and config.finetune.local is None else []

    def given(self, name: str) -> str | None:
        return self.config.finetune.fine_tuned_models.get(name)

    def key(self, step: ArmStep) -> str:
        settings = self.local.model_dump(mode="json", exclude={"dpo", "grpo"})  # never retrain SFT
        return stage_key(step.record["key"], settings, base_hash(self.local.model))

    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        from llmrec.finetune.local import plan_local

        if self.given(truth.name) is not None:
            return {}  # the model is given: nothing to train
        local, config = self.local, self.local.train_config()
        dry = plan_local(
            ctx.out / record["train_file"],
            local.model,
            validation=ctx.out / record["val_file"],
            config=config,
        )
        what = f"fine-tune {local.model} locally ({config.method}) on {truth.name}"
        compute = self.add_compute_line(ctx, what, dry)
        return {
            "provider": "local",
            "local": {
                "base_model": local.model,
                "base_sha256": base_hash(local.model),
                "method": config.method,
                "epochs": config.epochs,
                **compute,
            },
        }

    def run_training(self, step: ArmStep, key: str) -> None:
        from llmrec.finetune.local import train_local

        manifest = train_local(
            step.out / step.record["train_file"],
            self.local.model,
            step.out / self.folder(step.name, key),
            validation=step.out / step.record["val_file"],
            config=self.local.train_config(),
            progress=step.ctx.progress,
        )
        self.save_trained(
            step, key, manifest, hash_name="weights_sha256", final_loss=manifest.final_loss
        )

    def trained_fields(self, step: ArmStep, trained: Record, key: str) -> dict[str, Any]:
        full = self.local.train_config().method == "full"
        summary = {
            **step.record["local"],
            "folder": self.folder(step.name, key),
            "weights_sha256" if full else "adapter_sha256": trained["weights_sha256"],
            "tokens_seen": trained["tokens_seen"],
            "final_loss": trained["final_loss"],
            "wall_seconds": trained["wall_seconds"],
            "device": trained["device"],
        }
        return {"local": summary}

    @classmethod
    def report_lines(cls, record: Record) -> list[str]:
        local = record.get("local") or {}
        base = f"`{local.get('base_model')}`"
        if local.get("base_sha256"):
            base += f" (sha256 {str(local['base_sha256'])[:12]})"
        trained = local.get("adapter_sha256") or local.get("weights_sha256")
        what = "adapter" if local.get("adapter_sha256") else "weights"
        return [
            f"Fine-tuned locally: {local.get('method')} on base model {base}, "
            f"{record.get('train_examples', 0):,} examples, {local.get('epochs')} epochs, "
            f"{local.get('tokens', 0):,} tokens seen; "
            + (f"{what} sha256 {str(trained)[:12]}." if trained else "not trained in this run."),
            "",
            compute_sentence(
                f"Compute instead of USD: about {local.get('flops', 0.0):.3g} training FLOPs "
                f"(6 x {local.get('parameters', 0):,} parameters x tokens)",
                local,
            ),
            "",
        ]
