"""``LocalTrainManifest``: what a local fine-tuning run was given and what it did, saved atomically.

It names the base model (id or folder, its content hash or hub commit), for DPO the SFT model
used as start and reference (by content hash), the data (SHA-256 of each file and the token
counts), the chat template (SHA-256), the resolved hyperparameters, library versions, tokens
seen, wall time, loss per logged step, for GRPO the reward curve, validation loss per epoch,
the last checkpoint and the status. The same ``train_local`` call reads it back to resume a
run, to refuse an output folder that holds another run, and to return a finished run without
repeating it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from llmrec._io import write_json_atomic
from llmrec.errors import DataFormatError

__all__ = [
    "EXECUTION_SETTINGS",
    "MANIFEST_NAME",
    "OUTPUT_PLACES",
    "LocalTrainManifest",
    "RewardStep",
    "StepLoss",
]

MANIFEST_NAME = "local-train-manifest.json"
"""The manifest's file name inside the output folder."""

OUTPUT_PLACES: dict[str, str] = {"model": ".", "adapter": ".", "merged": "merged"}
"""Where each output of a run lives, relative to its output folder."""

EXECUTION_SETTINGS = (
    "per_device_batch_size",
    "gradient_accumulation_steps",
    "gradient_checkpointing",
    "report_to",
)
"""Settings that change how a step is computed or watched, not what it computes (the effective
batch, ``batch_size``, stays in the identity): a rerun may change them and still resume."""

Status = Literal["running", "succeeded", "failed", "interrupted"]
"""``interrupted``: stopped by Ctrl-C or SIGTERM; the same call resumes it."""


class StepLoss(BaseModel):
    """One logged optimizer step: its number, epoch (fractional), training loss and rate."""

    model_config = ConfigDict(extra="forbid")

    step: int
    epoch: float
    loss: float
    learning_rate: float | None = None


class RewardStep(BaseModel):
    """One logged GRPO step: the mean and standard deviation of the reward over the step's
    sampled answers, and the KL to the reference (``None`` when ``beta`` is 0: not computed)."""

    model_config = ConfigDict(extra="forbid")

    step: int
    epoch: float
    reward: float
    reward_std: float
    kl: float | None = None


class LocalTrainManifest(BaseModel):
    """Everything about one local run; see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    status: Status = "running"
    method: str
    base_model: str = Field(description="Hub id or absolute folder of the base model.")
    base_revision: str | None = Field(None, description="Hub commit of the base, if from the hub.")
    base_sha256: str | None = Field(None, description="Content hash of a local base folder.")
    reference: dict[str, Any] | None = Field(
        None,
        description="DPO only: the SFT model that is both the start and the reference "
        "(path, kind 'adapter' or 'model', sha256).",
    )
    train_file: dict[str, Any] = Field(description="Path, sha256 and token counts.")
    validation_file: dict[str, Any] | None = None
    template_sha256: str
    hyperparameters: dict[str, Any]
    libraries: dict[str, str]
    device: str = ""
    optimizer_steps: int = 0
    tokens_seen: int = 0
    wall_seconds: float = 0.0
    losses: list[StepLoss] = Field(default_factory=list)
    validation_losses: list[dict[str, float]] = Field(default_factory=list)
    rewards: list[RewardStep] = Field(
        default_factory=list,
        description="GRPO only: the reward curve, one entry per logged optimizer step.",
    )
    last_checkpoint: str | None = None
    resumed_from: list[str] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict)
    output_sha256: dict[str, str] = Field(
        default_factory=dict,
        description="Content hash of each output's model files (local_models.folder_sha256).",
    )
    error: str | None = None
    started_at: str = ""
    finished_at: str | None = None

    @property
    def final_loss(self) -> float | None:
        """Training loss of the last logged step."""
        return self.losses[-1].loss if self.losses else None

    def identity(self) -> dict[str, Any]:
        """What must match for a rerun to be the same run (base, data, template, settings but
        the :data:`EXECUTION_SETTINGS`)."""
        return {
            "method": self.method,
            "base_model": self.base_model,
            "base_sha256": self.base_sha256,
            "base_revision": self.base_revision,
            "reference_sha256": (self.reference or {}).get("sha256"),
            "train_sha256": self.train_file.get("sha256"),
            "validation_sha256": (self.validation_file or {}).get("sha256"),
            "template_sha256": self.template_sha256,
            "hyperparameters": {
                k: v for k, v in self.hyperparameters.items() if k not in EXECUTION_SETTINGS
            },
        }

    def save(self, path: str | Path) -> None:
        """Write atomically (indented, sorted keys)."""
        write_json_atomic(path, self.model_dump(mode="json"))

    @classmethod
    def load(cls, path: str | Path) -> LocalTrainManifest:
        """Read a manifest; a :class:`DataFormatError` names the file when it is damaged."""
        try:
            return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
        except (json.JSONDecodeError, PydanticValidationError) as exc:
            raise DataFormatError(f"not a local training manifest ({exc})", path=path) from None
