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

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec._io import write_json_atomic
from llmrec.experiment.arms.base import FineTuningArm, Record, Trained
from llmrec.experiment.plan import gpu_hours, local_training_line
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from typing_extensions import Self

    from llmrec.experiment.config import ExperimentConfig, LocalFineTune
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


class LocalSFTArm(FineTuningArm):
    """``provider = "local"``: supervised training (LoRA, QLoRA or full) of ``[finetune.local]``."""

    provider = "local"
    method = "sft"
    how_to_add = "set finetune.enabled = true with [finetune.local] (provider 'local')"

    def __init__(self, config: ExperimentConfig, local: LocalFineTune) -> None:
        super().__init__(config)
        self.local = local

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> Self | None:
        local = config.finetune.local
        return None if local is None else cls(config, local)

    @classmethod
    def config_problems(cls, config: ExperimentConfig, *, selected: bool) -> list[str]:
        return [NO_LOCAL] if selected and config.finetune.local is None else []

    def _key(self, files_key: str) -> str:
        settings = self.local.model_dump(mode="json", exclude={"dpo", "grpo"})  # never retrain SFT
        return stage_key(files_key, settings, base_hash(self.local.model))

    def _given(self, truth: PreparedTruth) -> str | None:
        return self.config.finetune.fine_tuned_models.get(truth.name)

    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Record
    ) -> dict[str, Any]:
        from llmrec.finetune.local import plan_local

        if self._given(truth) is not None:
            return {}  # the model is given: nothing to train
        local, config = self.local, self.local.train_config()
        dry = plan_local(
            ctx.out / record["train_file"],
            local.model,
            validation=ctx.out / record["val_file"],
            config=config,
        )
        ctx.add_line(
            local_training_line(
                f"fine-tune {local.model} locally ({config.method}) on {truth.name}",
                dry,
                local.assumed_tflops,
                will_run=self.config.finetune.enabled,
            )
        )
        return {
            "provider": "local",
            "local": {
                "base_model": local.model,
                "base_sha256": base_hash(local.model),
                "method": config.method,
                "epochs": config.epochs,
                "tokens": dry.tokens,
                "parameters": dry.parameters,
                "trainable_parameters": dry.trainable_parameters,
                "flops": dry.flops,
                "assumed_tflops": local.assumed_tflops,
                "gpu_hours": gpu_hours(dry.flops, local.assumed_tflops),
                "optimizer_steps": dry.optimizer_steps,
            },
        }

    def find(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> str | None:
        given = self._given(truth)
        if given is not None:
            return given
        if not self.config.finetune.enabled:
            return None
        if not ctx.store.is_done(f"finetune-local:{truth.name}", self._key(record["key"])):
            return None
        return str(ctx.read_json(f"finetune/{truth.name}.local.json")["fine_tuned_model"])

    def stand_in(self, ctx: RunContext) -> tuple[str, str | None]:
        # a dry run prices it on the base model (same tokenizer and chat template)
        if self.config.finetune.enabled:
            return self.local.model, None  # trained before the backends run
        return self.local.model, "needs a fine-tuned model: enable finetune (provider local)"

    def train(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Record,
        models: Mapping[str, str | None],
    ) -> Trained:
        from llmrec.finetune.local import train_local
        from llmrec.local_models.fingerprint import folder_sha256

        given = self._given(truth)
        if given is not None:
            return given, {}
        if not self.config.finetune.enabled or ctx.dry_run:
            return None, {}
        local, config, out, name = self.local, self.local.train_config(), ctx.out, truth.name
        key = self._key(record["key"])
        folder = f"finetune/{name}.local-{key}"
        record_path = f"finetune/{name}.local.json"

        def work() -> None:
            manifest = train_local(
                out / record["train_file"],
                local.model,
                out / folder,
                validation=out / record["val_file"],
                config=config,
                progress=ctx.progress,
            )
            write_json_atomic(
                out / record_path,
                {
                    "fine_tuned_model": str((out / folder).resolve()),
                    "weights_sha256": folder_sha256(out / folder),
                    "status": manifest.status,
                    "tokens_seen": manifest.tokens_seen,
                    "final_loss": manifest.final_loss,
                    "wall_seconds": manifest.wall_seconds,
                    "device": manifest.device,
                },
            )

        ctx.store.run(f"finetune-local:{name}", key, [record_path], work)
        trained = ctx.read_json(record_path)
        hash_name = "adapter_sha256" if config.method != "full" else "weights_sha256"
        summary = {
            **record["local"],
            "folder": folder,
            hash_name: trained["weights_sha256"],
            "tokens_seen": trained["tokens_seen"],
            "final_loss": trained["final_loss"],
            "wall_seconds": trained["wall_seconds"],
            "device": trained["device"],
        }
        return str(trained["fine_tuned_model"]), {"local": summary}

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
            f"Compute instead of USD: about {local.get('flops', 0.0):.3g} training FLOPs "
            f"(6 x {local.get('parameters', 0):,} parameters x tokens), about "
            f"{local.get('gpu_hours', 0.0):.3g} GPU-hours at an assumed "
            f"{local.get('assumed_tflops', 0.0):g} TFLOP/s sustained"
            + (
                f"; measured here: {local['wall_seconds']:.0f} s on {local.get('device')}."
                if local.get("wall_seconds") is not None
                else "."
            ),
            "",
        ]
