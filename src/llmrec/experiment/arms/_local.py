"""What the arms trained on this machine share: compute instead of USD, the trained folder and
its record, and (for the arms that start from the SFT arm) settings, key and config checks.

* :class:`LocalArm`: a :class:`~llmrec.experiment.arms.staged.StagedArm` that trains into
  ``finetune/NAME.TAG-KEY/`` and records it in ``finetune/NAME.TAG.json``; its plan line and
  report paragraph give tokens, FLOPs and GPU-hours at ``[finetune.local] assumed_tflops``.
* :class:`LocalFollowUpArm`: an arm that trains the local SFT arm's model further
  (``[finetune.local.METHOD]``: DPO, GRPO), keyed by that model's path and content.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from llmrec._io import write_json_atomic
from llmrec.experiment.arms.staged import ArmStep, StagedArm
from llmrec.experiment.plan import gpu_hours, local_training_line
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from typing_extensions import Self

    from llmrec.experiment.arms.base import Record
    from llmrec.experiment.config import ExperimentConfig, LocalFineTune
    from llmrec.experiment.context import RunContext
    from llmrec.finetune.local.config import LocalTrainConfig

__all__ = ["LocalArm", "LocalFollowUpArm", "compute_sentence"]


class _FollowUpSettings(Protocol):
    """``[finetune.local.METHOD]``: training settings of their own and maybe a chat template."""

    @property
    def chat_template(self) -> str | None: ...

    def train_config(self) -> LocalTrainConfig: ...


Settings = TypeVar("Settings", bound=_FollowUpSettings)


def compute_sentence(head: str, info: Record) -> str:
    """``head`` (what was counted), then the GPU-hours at the assumed throughput and, once
    trained, the measured wall time: the report's compute sentence of a local arm."""
    return (
        f"{head}, about {info.get('gpu_hours', 0.0):.3g} GPU-hours at an assumed "
        f"{info.get('assumed_tflops', 0.0):g} TFLOP/s sustained"
        + (
            f"; measured here: {info['wall_seconds']:.0f} s on {info.get('device')}."
            if info.get("wall_seconds") is not None
            else "."
        )
    )


class LocalArm(StagedArm):
    """An arm trained on this machine from ``[finetune.local]``'s base model."""

    provider = "local"
    tag: ClassVar[str]
    """The trained folder is ``finetune/NAME.TAG-KEY``, its record ``finetune/NAME.TAG.json``."""

    def __init__(self, config: ExperimentConfig, local: LocalFineTune) -> None:
        super().__init__(config)
        self.local = local

    def record_path(self, name: str) -> str:
        return f"finetune/{name}.{self.tag}.json"

    def folder(self, name: str, key: str) -> str:
        """The trained model's folder (relative to the output folder)."""
        return f"finetune/{name}.{self.tag}-{key}"

    def stand_in(self, ctx: RunContext) -> tuple[str, str | None]:
        # a dry run prices it on the base model (same tokenizer and chat template)
        if self.config.finetune.enabled:
            return self.local.model, None  # trained before the backends run
        return self.local.model, "needs a fine-tuned model: enable finetune (provider local)"

    def add_compute_line(self, ctx: RunContext, what: str, dry: Any) -> dict[str, Any]:
        """Add the plan line of training ``dry`` (a local training plan); its record fields."""
        tflops = self.local.assumed_tflops
        ctx.add_line(local_training_line(what, dry, tflops, will_run=self.config.finetune.enabled))
        return {
            "tokens": dry.tokens,
            "parameters": dry.parameters,
            "trainable_parameters": dry.trainable_parameters,
            "flops": dry.flops,
            "assumed_tflops": tflops,
            "gpu_hours": gpu_hours(dry.flops, tflops),
            "optimizer_steps": dry.optimizer_steps,
        }

    def save_trained(
        self, step: ArmStep, key: str, manifest: Any, *, hash_name: str, **fields: Any
    ) -> None:
        """Write the record of the model trained into :meth:`folder` (``manifest``: its
        training manifest; ``fields``: what else the arm records)."""
        from llmrec.local_models.fingerprint import folder_sha256

        folder = step.out / self.folder(step.name, key)
        write_json_atomic(
            step.out / self.record_path(step.name),
            {
                "fine_tuned_model": str(folder.resolve()),
                hash_name: folder_sha256(folder),
                "status": manifest.status,
                "tokens_seen": manifest.tokens_seen,
                "wall_seconds": manifest.wall_seconds,
                "device": manifest.device,
                **fields,
            },
        )


class LocalFollowUpArm(LocalArm, Generic[Settings]):
    """An arm that trains the local SFT arm's model further, from ``[finetune.local.METHOD]``
    (every :class:`~llmrec.finetune.local.LocalTrainConfig` field, the method fixed)."""

    does: ClassVar[str]
    """What it does to the SFT arm, for the config checks ("preference-tunes", ...)."""
    otherwise: ClassVar[str] = ""
    """Where a config under another provider should look instead, for the config checks."""
    needs: ClassVar[str] = "the SFT arm it starts from"
    """What it needs trained first, for the config checks."""

    def __init__(self, config: ExperimentConfig, local: LocalFineTune, settings: Settings) -> None:
        super().__init__(config, local)
        self.settings = settings

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> Self | None:
        local = config.finetune.local
        settings = None if local is None else getattr(local, cls.method)
        return None if local is None or settings is None else cls(config, local, settings)

    @classmethod
    def config_problems(cls, config: ExperimentConfig, *, selected: bool) -> list[str]:
        ft, table = config.finetune, f"[finetune.local.{cls.method}]"
        local = ft.local
        settings = getattr(local, cls.method) if local is not None else None
        found: list[str] = []
        if local is not None and local.method == cls.method:
            found.append(
                f"[finetune.local] method = '{cls.method}': the SFT arm is supervised (lora, "
                f"qlora or full); put the {cls.method.upper()} arm's settings in {table}"
            )
        if settings is not None and not selected:
            found.append(
                f"{table} {cls.does} the SFT arm trained on this machine: set "
                f"finetune.provider = 'local'{cls.otherwise}"
            )
        elif settings is not None and not ft.enabled:
            found.append(f"{table} needs {cls.needs}: set finetune.enabled = true")
        return found

    def train_config(self) -> LocalTrainConfig:
        """The training settings; a LoRA SFT arm's adapter keeps training (its rank and
        targets count), and a chat template given to the SFT arm is the one its folder carries."""
        local = self.local
        update: dict[str, Any] = {}
        if local.method in ("lora", "qlora"):
            update.update(lora_r=local.lora_r, lora_target_modules=local.lora_target_modules)
        if self.settings.chat_template is None and local.chat_template is not None:
            update["chat_template"] = local.chat_template
        return self.settings.train_config().model_copy(update=update)

    def files_key(self, record: Record) -> str:
        """The key of the files this arm trains on."""
        return str(record["key"])

    def key_parts(self) -> tuple[Any, ...]:
        """What else the model depends on, besides its files, settings and start model."""
        return ()

    def key(self, step: ArmStep) -> str | None:
        """Keyed by the files, the settings and the SFT model it starts from (path and
        content); ``None`` while that model is not known."""
        from llmrec.local_models.fingerprint import folder_sha256

        sft_model = step.models.get("sft")
        if sft_model is None:
            return None
        sft_hash: str | None = None
        saved = f"finetune/{step.name}.local.json"
        trained = step.ctx.read_json(saved) if (step.out / saved).is_file() else {}
        if trained.get("fine_tuned_model") == sft_model:
            sft_hash = trained.get("weights_sha256")
        elif Path(sft_model).is_dir():
            sft_hash = folder_sha256(sft_model)
        config = self.train_config().model_dump(mode="json")
        files = self.files_key(step.record)
        return stage_key(files, config, *self.key_parts(), sft_model, sft_hash)

    def trained_fields(self, step: ArmStep, trained: Record, key: str) -> dict[str, Any]:
        info = step.record[self.method]
        return {self.method: {**info, "folder": self.folder(step.name, key), **trained}}
