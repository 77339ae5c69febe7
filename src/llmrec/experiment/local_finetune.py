"""The fine-tuned arm trained on this machine: ``finetune.provider = "local"``.

With ``[finetune] provider = "local"`` and ``[finetune.local] model = "..."`` (plus any
:class:`~llmrec.finetune.local.LocalTrainConfig` field: ``method``, ``epochs``, ``batch_size``,
``learning_rate``, ``lora_r``, ...), the runner trains the base model on the experiment's
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

import json
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from llmrec._io import write_json_atomic
from llmrec.errors import ConfigError
from llmrec.experiment.costs import gpu_hours, local_training_line
from llmrec.experiment.dpo_config import LocalDPO
from llmrec.experiment.stages import stage_key
from llmrec.finetune.local.config import LocalTrainConfig

__all__ = [
    "LocalFineTune",
    "gpu_hours",
    "known_local_model",
    "planned_local_model",
    "report_lines",
    "train_local_arm",
]

NO_LOCAL = (
    "finetune.provider = 'local' needs the base model: add [finetune.local] with model = "
    "'<hub id or folder>' (and any LocalTrainConfig field: method, epochs, batch_size, ...)"
)


class LocalFineTune(LocalTrainConfig):
    """``[finetune.local]``: the base model, the assumed GPU throughput, and the training
    settings (every :class:`~llmrec.finetune.local.LocalTrainConfig` field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, description="Base model: hub id or model folder.")
    assumed_tflops: float = Field(
        100.0,
        gt=0,
        description="Sustained training throughput (TFLOP/s) used to turn FLOPs into GPU-hours.",
    )
    dpo: LocalDPO | None = Field(
        None,
        description="[finetune.local.dpo]: a DPO arm preference-tuned from this (SFT) arm; see "
        "llmrec.experiment.local_dpo.",
    )

    def train_config(self) -> LocalTrainConfig:
        """The :class:`LocalTrainConfig` part."""
        return LocalTrainConfig(**self.model_dump(exclude={"model", "assumed_tflops", "dpo"}))


def _local(stage: Any) -> LocalFineTune:
    local: LocalFineTune | None = stage.local
    if local is None:
        raise ConfigError(NO_LOCAL)
    return local


def planned_local_model(stage: Any, *, dry_run: bool) -> tuple[str, str | None]:
    """Model for the fine-tuned arm before training ran, and why it cannot run (``None``: it
    can). A dry run prices it on the base model (same tokenizer and chat template)."""
    local = _local(stage)
    if stage.enabled:
        return local.model, None  # trained before the backends run (priced on the base model)
    return local.model, "needs a fine-tuned model: enable finetune (provider local)"


def _stage_key(runner: Any, files_key: str) -> str:
    local = _local(runner.config.finetune)
    settings = local.model_dump(mode="json", exclude={"dpo"})  # the DPO arm never retrains SFT
    return stage_key(files_key, settings, _base_hash(local.model))


def known_local_model(runner: Any, name: str, files_key: str) -> str | None:
    """The folder an earlier run trained for ``name`` with these settings, if any."""
    if not runner.store.is_done(f"finetune-local:{name}", _stage_key(runner, files_key)):
        return None
    record = json.loads((runner.out / f"finetune/{name}.local.json").read_text("utf-8"))
    return str(record["fine_tuned_model"])


def _base_hash(model: str) -> str | None:
    from llmrec.local_models.fingerprint import folder_sha256

    return folder_sha256(model) if Path(model).is_dir() else None


def train_local_arm(runner: Any, name: str, files_key: str, summary: dict[str, Any]) -> str | None:
    """Plan (and unless a dry run or disabled, run) local fine-tuning on ``name``'s files.

    Returns the trained folder, or ``None`` when nothing was trained. Adds a compute line to the
    plan and a ``local`` record (base model, hashes, tokens, FLOPs, GPU-hours) to ``summary``.
    """
    from llmrec.finetune.local import plan_local, train_local
    from llmrec.local_models.fingerprint import folder_sha256

    stage = runner.config.finetune
    local = _local(stage)
    config = local.train_config()
    out: Path = runner.out
    train_file, val_file = out / summary["train_file"], out / summary["val_file"]
    base_hash = _base_hash(local.model)
    key = _stage_key(runner, files_key)
    folder = f"finetune/{name}.local-{key}"
    record_path = f"finetune/{name}.local.json"
    dry = plan_local(train_file, local.model, validation=val_file, config=config)
    hours = gpu_hours(dry.flops, local.assumed_tflops)
    will_run = stage.enabled and not runner.dry_run
    runner.plan.append(
        local_training_line(
            f"fine-tune {local.model} locally ({config.method}) on {name}",
            dry,
            local.assumed_tflops,
            will_run=stage.enabled,
        )
    )
    summary["provider"] = "local"
    summary["local"] = {
        "base_model": local.model,
        "base_sha256": base_hash,
        "method": config.method,
        "epochs": config.epochs,
        "tokens": dry.tokens,
        "parameters": dry.parameters,
        "trainable_parameters": dry.trainable_parameters,
        "flops": dry.flops,
        "assumed_tflops": local.assumed_tflops,
        "gpu_hours": hours,
        "optimizer_steps": dry.optimizer_steps,
    }
    if not will_run:
        return None

    def work() -> None:
        manifest = train_local(
            train_file,
            local.model,
            out / folder,
            validation=val_file,
            config=config,
            progress=runner.progress,
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

    runner.store.run(f"finetune-local:{name}", key, [record_path], work)
    record = json.loads((out / record_path).read_text("utf-8"))
    summary["local"].update(
        {
            "folder": folder,
            "adapter_sha256" if config.method != "full" else "weights_sha256": record[
                "weights_sha256"
            ],
            "tokens_seen": record["tokens_seen"],
            "final_loss": record["final_loss"],
            "wall_seconds": record["wall_seconds"],
            "device": record["device"],
        }
    )
    return str(record["fine_tuned_model"])


def report_lines(ft: dict[str, Any]) -> list[str]:
    """The report's fine-tuning paragraph for a locally trained arm."""
    local = ft.get("local") or {}
    base = f"`{local.get('base_model')}`"
    if local.get("base_sha256"):
        base += f" (sha256 {str(local['base_sha256'])[:12]})"
    trained = local.get("adapter_sha256") or local.get("weights_sha256")
    what = "adapter" if local.get("adapter_sha256") else "weights"
    lines = [
        f"Fine-tuned locally: {local.get('method')} on base model {base}, "
        f"{ft.get('train_examples', 0):,} examples, {local.get('epochs')} epochs, "
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
    return lines
