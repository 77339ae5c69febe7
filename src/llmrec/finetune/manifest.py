"""``RunManifest``: everything known about one hosted fine-tuning run, saved after every change.

The manifest is what makes a run resumable and auditable: the configuration, each file's path,
SHA-256 and uploaded id, the job id, every status the job passed through (with when it was seen),
the events and checkpoints, the resulting model, the estimated and the billed cost, and the
error of a failed job. It never holds an API key. It is written atomically
(:func:`llmrec._io.write_json_atomic`), so a crash leaves the previous complete version.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from llmrec._io import file_sha256, write_json_atomic
from llmrec.errors import DataFormatError
from llmrec.openai_api.models import DEFAULT_MODEL

__all__ = [
    "CheckpointRecord",
    "EventRecord",
    "FileRecord",
    "FineTuneConfig",
    "RunManifest",
    "StatusChange",
    "file_sha256",
    "utc_now",
]

MANIFEST_VERSION = 1
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class FineTuneConfig(BaseModel):
    """The settings of a fine-tuning job (the study's SFT: 2 epochs, batch 32, LR × 1; or DPO)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(DEFAULT_MODEL, min_length=1, description="Base model.")
    n_epochs: int = Field(2, ge=1, le=50, description="Passes over the training file.")
    batch_size: int = Field(32, ge=1, le=256, description="Examples per optimisation step.")
    learning_rate_multiplier: float = Field(
        1.0, gt=0, le=1000, description="Scale of OpenAI's default learning rate."
    )
    suffix: str | None = Field(None, max_length=64, description="Text added to the model id.")
    seed: int | None = Field(None, description="Job seed; OpenAI picks one when None.")
    method: Literal["supervised", "dpo"] = Field(
        "supervised", description="Fine-tuning method: supervised (chat file) or dpo (pairs)."
    )
    beta: float | None = Field(
        None, gt=0, le=2, description="DPO beta (None: OpenAI's 'auto'); dpo only."
    )

    @model_validator(mode="after")
    def _beta_needs_dpo(self) -> FineTuneConfig:
        if self.beta is not None and self.method != "dpo":
            raise ValueError(f"beta applies to method 'dpo' only, not {self.method!r}")
        return self

    def hyperparameters(self) -> dict[str, Any]:
        """The ``method.<type>.hyperparameters`` object of the create-job request."""
        out: dict[str, Any] = {
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
        }
        if self.method == "dpo" and self.beta is not None:
            out["beta"] = self.beta
        return out

    def method_payload(self) -> dict[str, Any]:
        """The ``method`` object of the create-job request, e.g.
        ``{"type": "dpo", "dpo": {"hyperparameters": {...}}}``."""
        return {"type": self.method, self.method: {"hyperparameters": self.hyperparameters()}}


class FileRecord(BaseModel):
    """A local training or validation file and, once uploaded, its OpenAI file id."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="The file as given (resolved to an absolute path).")
    sha256: str = Field(min_length=64, max_length=64, description="Hex SHA-256 of its bytes.")
    bytes: int = Field(ge=0, description="Size in bytes.")
    file_id: str | None = Field(None, description="OpenAI file id once uploaded.")
    uploaded_at: str | None = Field(None, description="When the upload finished (UTC).")


class StatusChange(BaseModel):
    """A job status and when it was first seen (UTC, ISO 8601)."""

    model_config = ConfigDict(extra="forbid")

    status: str
    at: str


class EventRecord(BaseModel):
    """One fine-tuning job event as the API reported it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    created_at: int = Field(description="Unix time of the event.")
    level: str = "info"
    message: str = ""


class CheckpointRecord(BaseModel):
    """One checkpoint (OpenAI keeps the last epochs' checkpoints as usable models)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    step_number: int
    fine_tuned_model_checkpoint: str
    created_at: int
    metrics: dict[str, float | None] = Field(default_factory=dict)


class RunManifest(BaseModel):
    """The saved state of one fine-tuning run; see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(MANIFEST_VERSION, description="Manifest format version.")
    config: FineTuneConfig
    training: FileRecord
    validation: FileRecord | None = None
    max_cost_usd: float | None = Field(None, ge=0, description="Budget the run was started with.")
    estimated_cost_usd: float | None = Field(None, ge=0)
    estimated_billed_tokens: int | None = Field(None, ge=0)
    job_id: str | None = None
    status: str | None = None
    status_history: list[StatusChange] = Field(default_factory=list)
    events: list[EventRecord] = Field(default_factory=list)
    checkpoints: list[CheckpointRecord] = Field(default_factory=list)
    trained_tokens: int | None = Field(None, ge=0)
    fine_tuned_model: str | None = None
    billed_cost_usd: float | None = Field(None, ge=0)
    error: str | None = None
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)

    @property
    def done(self) -> bool:
        """Whether the job reached ``succeeded``, ``failed`` or ``cancelled``."""
        return self.status in TERMINAL_STATUSES

    def record_status(self, status: str) -> bool:
        """Note ``status`` if it differs from the last one seen; returns whether it changed."""
        if self.status == status:
            return False
        self.status = status
        self.status_history.append(StatusChange(status=status, at=utc_now()))
        return True

    def save(self, path: str | Path) -> None:
        """Write to ``path`` atomically, stamping ``updated_at``."""
        from llmrec.openai_api.redact import redact_strings

        self.updated_at = utc_now()
        # a server may echo the API key in an error or event: never write it
        write_json_atomic(path, redact_strings(self.model_dump(mode="json")))

    @classmethod
    def load(cls, path: str | Path) -> RunManifest:
        """Read a manifest; a missing or damaged file raises ``DataFormatError``."""
        src = Path(path)
        try:
            data = json.loads(src.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataFormatError("fine-tuning manifest not found", path=src) from None
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"manifest is not valid JSON: {exc}", path=src) from None
        try:
            return cls.model_validate(data)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DataFormatError(
                f"manifest field {where!r}: {first['msg']}", path=src, text=str(first["input"])[:80]
            ) from None
