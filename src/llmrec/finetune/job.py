"""``FineTuner``: run a hosted OpenAI fine-tuning job from a JSONL file to a fine-tuned model id.

The paper's loop φ (supervised fine-tuning of GPT-4o-mini, 2 epochs, batch size 32, learning-rate
multiplier 1) as a resumable, budgeted run:

1. ``start`` validates the files (:func:`~llmrec.finetune.validate_chat_jsonl`), prices the run
   (:func:`~llmrec.finetune.estimate_training_cost`) and refuses it when it would cost more than
   ``max_cost_usd`` — all before anything is sent. It then uploads the files (purpose
   ``fine-tune``) and creates the job, writing each file id and the job id to the manifest as
   soon as the API returns it.
2. ``wait`` follows the job to its end, recording every status change, event and checkpoint.
3. Every step is saved in a :class:`~llmrec.finetune.manifest.RunManifest`; a new
   ``FineTuner`` on the same manifest (another process, after a crash) carries on from it: files
   with the same SHA-256 are not uploaded again and a recorded job is followed, not re-created.

With ``method="dpo"`` the same steps take a preference file
(:func:`~llmrec.finetune.validate_preference_jsonl`,
:func:`~llmrec.finetune.estimate_preference_cost`) and the job is created with OpenAI's DPO
method; models outside :data:`~llmrec.finetune.dpo_models.DPO_MODELS` are refused first.

The billed cost of a finished job is ``trained_tokens × training price per 1M / 1e6`` with
prices from :mod:`llmrec.openai_api.prices`. Retries of rate limits and server errors are left
to the ``openai`` client (its ``max_retries``), configured by whoever creates it.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from llmrec._progress import progress_bar
from llmrec.errors import BackendError, BudgetExceededError, ConfigError
from llmrec.finetune.manifest import (
    CheckpointRecord,
    EventRecord,
    FileRecord,
    FineTuneConfig,
    RunManifest,
    file_sha256,
    utc_now,
)
from llmrec.openai_api.keys import redact
from llmrec.openai_api.models import DEFAULT_MODEL

if TYPE_CHECKING:
    import openai

    from llmrec.finetune.formats.results import TrainingCostEstimate
    from llmrec.openai_api.prices import PriceTable

__all__ = ["FineTuner", "JobState"]

_ADOPTABLE_STATUSES = frozenset({"validating_files", "queued", "running", "succeeded"})

_F = TypeVar("_F", bound=Callable[..., Any])


@contextlib.contextmanager
def _scrubbed() -> Iterator[None]:
    """Errors leave with every known API key masked in their text (servers may echo it)."""
    from llmrec.openai_api.redact import scrub_exception

    try:
        yield
    except Exception as exc:
        scrub_exception(exc)
        raise


def _keys_masked(method: _F) -> _F:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _scrubbed():
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class JobState:
    """A snapshot of a run: the job's status and, once known, its results and costs."""

    manifest: Path
    job_id: str | None
    status: str | None
    model: str
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    estimated_cost_usd: float | None = None
    billed_cost_usd: float | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled)."""
        return self.status in ("succeeded", "failed", "cancelled")

    def __str__(self) -> str:
        parts = [f"job {self.job_id or '(not created)'}: {self.status or 'not started'}"]
        if self.fine_tuned_model:
            parts.append(f"model {self.fine_tuned_model}")
        if self.trained_tokens is not None:
            parts.append(f"{self.trained_tokens:,} trained tokens")
        if self.billed_cost_usd is not None:
            parts.append(f"billed {_usd(self.billed_cost_usd)} USD")
        elif self.estimated_cost_usd is not None:
            parts.append(f"estimated {_usd(self.estimated_cost_usd)} USD")
        if self.error:
            parts.append(f"error: {self.error}")
        return "; ".join(parts)


def planned_model_id(base: str) -> str:
    """What a model fine-tuned from ``base`` is planned and priced as before the job names it."""
    from llmrec.openai_api.models import fine_tuned_family

    return fine_tuned_family(base)


def _usd(amount: float) -> str:
    """Cents for real amounts; two significant digits below a cent (test runs cost fractions)."""
    return f"{amount:,.2f}" if amount >= 0.01 or amount == 0 else f"{amount:.2g}"


def _file_record(path: str | Path) -> FileRecord:
    src = Path(path).resolve()
    if not src.is_file():
        raise ConfigError(f"fine-tuning file not found: {src}")
    return FileRecord(path=str(src), sha256=file_sha256(src), bytes=src.stat().st_size)


def _same_file(recorded: FileRecord | None, current: FileRecord | None) -> bool:
    if recorded is None or current is None:
        return recorded is current
    return recorded.sha256 == current.sha256


class FineTuner:
    """Start, follow, resume and cancel one hosted fine-tuning job, kept in a manifest file.

    ``client`` is an ``openai.OpenAI`` used as given (its ``base_url``, key and ``max_retries``);
    ``manifest`` is the JSON file holding the run; ``poll_interval`` is the seconds between status
    checks in :meth:`wait`; ``prices`` overrides the default price table.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        manifest: str | Path,
        progress: bool = True,
        poll_interval: float = 5.0,
        prices: PriceTable | None = None,
    ) -> None:
        if poll_interval < 0:
            raise ConfigError(f"poll_interval must be >= 0, got {poll_interval}")
        from llmrec.openai_api.redact import register_secret

        # whatever client is handed in, a server echoing its key never gets it into a manifest
        register_secret(getattr(client, "api_key", None))
        self.client = client
        self.manifest_path = Path(manifest)
        self.progress = progress
        self.poll_interval = poll_interval
        self.prices = prices

    # -- public -----------------------------------------------------------------------------
    @_keys_masked
    def start(
        self,
        training_file: str | Path,
        *,
        validation_file: str | Path | None = None,
        model: str = DEFAULT_MODEL,
        n_epochs: int = 2,
        batch_size: int = 32,
        learning_rate_multiplier: float = 1.0,
        suffix: str | None = None,
        seed: int | None = None,
        max_cost_usd: float | None = None,
        estimate: TrainingCostEstimate | None = None,
        method: str = "supervised",
        beta: float | None = None,
        allow_unlisted_dpo_model: bool = False,
    ) -> JobState:
        """Validate, price, upload and create the job; returns its first state.

        Raises :class:`~llmrec.errors.ValidationError` for a file OpenAI would reject and
        :class:`~llmrec.errors.BudgetExceededError` when the estimate exceeds ``max_cost_usd``,
        before any request. With an existing manifest for the same files and settings, uploads
        and job creation already recorded there are not repeated.

        ``method="dpo"`` takes preference files (:func:`~llmrec.finetune.export_preference_jsonl`)
        and sends ``method={"type": "dpo", "dpo": {"hyperparameters": {..., "beta": beta}}}``
        (``beta=None``: OpenAI's ``auto``). A model OpenAI does not document for DPO
        (:data:`~llmrec.finetune.dpo_models.DPO_MODELS`) raises
        :class:`~llmrec.errors.ConfigError` before anything is sent, unless
        ``allow_unlisted_dpo_model=True``.
        """
        if method not in ("supervised", "dpo"):
            raise ConfigError(f"method must be 'supervised' or 'dpo', got {method!r}")
        try:
            config = FineTuneConfig(
                model=model,
                n_epochs=n_epochs,
                batch_size=batch_size,
                learning_rate_multiplier=learning_rate_multiplier,
                suffix=suffix,
                seed=seed,
                method=method,
                beta=beta,
            )
        except ValueError as exc:
            raise ConfigError(f"invalid fine-tuning settings: {exc}") from None
        if method == "dpo":
            from llmrec.finetune.dpo_models import check_dpo_model

            check_dpo_model(model, allow_unlisted=allow_unlisted_dpo_model)
        if max_cost_usd is not None and max_cost_usd < 0:
            raise ConfigError(f"max_cost_usd must be >= 0, got {max_cost_usd}")
        training = _file_record(training_file)
        validation = None if validation_file is None else _file_record(validation_file)
        previous = self._load_if_any()
        if previous is not None and previous.job_id is not None:
            self._check_same_run(previous, config, training, validation)
            return self.status()

        from llmrec.finetune.formats.registry import format_for_method

        fmt = format_for_method(method)
        for record in (training, validation):
            if record is not None:
                fmt.validate(
                    record.path, model=model, max_example_tokens=fmt.hosted_limit(model)
                ).raise_if_invalid()
        cost = estimate or fmt.estimate_cost(
            training.path, model=model, n_epochs=n_epochs, prices=self.prices
        )
        if max_cost_usd is not None and cost.usd > max_cost_usd:
            raise BudgetExceededError(
                f"fine-tuning {Path(training.path).name} on {model} for {n_epochs} epochs is "
                f"estimated at {_usd(cost.usd)} USD ({cost.billed_tokens:,} billed tokens), above "
                f"the budget of {_usd(max_cost_usd)} USD; nothing was uploaded. Raise max_cost_usd "
                "(--max-cost on the command line) or use fewer examples or epochs."
            )

        manifest = RunManifest(
            config=config,
            training=training,
            validation=validation,
            max_cost_usd=max_cost_usd,
            estimated_cost_usd=cost.usd,
            estimated_billed_tokens=cost.billed_tokens,
        )
        resumed = previous is not None and self._reuse_uploads(previous, manifest)
        manifest.save(self.manifest_path)
        for record in (manifest.training, manifest.validation):
            if record is not None and record.file_id is None:
                self._upload(record, manifest)
        if resumed:
            self._adopt_existing_job(manifest)
        if manifest.job_id is None:
            self._create_job(manifest)
        return self._state(manifest)

    @_keys_masked
    def status(self) -> JobState:
        """Ask the API once for the job's status, recording what is new.

        Never raises for a failed job: its error is in the returned state.
        """
        manifest = self._load_with_job()
        self._refresh(manifest)
        return self._state(manifest)

    @_keys_masked
    def wait(self, *, timeout: float | None = None) -> JobState:
        """Follow the job until it ends, saving each change; returns its final state.

        Returns early, with the job still running, when ``timeout`` seconds pass (call again to
        carry on). Raises :class:`~llmrec.errors.BackendError` with the job's error message when
        the job fails (after recording it).
        """
        manifest = self._load_with_job()
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = progress_bar(
            enabled=self.progress, total=manifest.config.n_epochs, desc=f"{manifest.job_id}"
        )
        try:
            while True:
                before = len(manifest.checkpoints)
                self._refresh(manifest)
                bar.update(len(manifest.checkpoints) - before)
                bar.set_postfix_str(manifest.status or "")
                if manifest.done:
                    return self._finish(manifest)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return self._state(manifest)
                time.sleep(self.poll_interval if left is None else min(self.poll_interval, left))
        finally:
            bar.close()

    @_keys_masked
    def cancel(self) -> JobState:
        """Cancel the job (if it has not ended) and record the new status."""
        manifest = self._load_with_job()
        self._refresh(manifest)
        if not manifest.done:
            job = self.client.fine_tuning.jobs.cancel(str(manifest.job_id))
            manifest.record_status(job.status)
            manifest.save(self.manifest_path)
        return self._state(manifest)

    def has_job(self) -> bool:
        """Whether the manifest exists and records a job id (``status`` and ``wait`` need one)."""
        if not self.manifest_path.exists():
            return False
        return RunManifest.load(self.manifest_path).job_id is not None

    def load_manifest(self) -> RunManifest:
        """The manifest as saved on disk."""
        return RunManifest.load(self.manifest_path)

    # -- start helpers ----------------------------------------------------------------------
    def _load_if_any(self) -> RunManifest | None:
        return RunManifest.load(self.manifest_path) if self.manifest_path.exists() else None

    def _check_same_run(
        self,
        previous: RunManifest,
        config: FineTuneConfig,
        training: FileRecord,
        validation: FileRecord | None,
    ) -> None:
        same = (
            previous.config == config
            and _same_file(previous.training, training)
            and _same_file(previous.validation, validation)
        )
        if not same:
            raise ConfigError(
                f"{self.manifest_path} already records job {previous.job_id} with other files or "
                "settings; pass a new manifest path to start another run"
            )
        if previous.status in ("failed", "cancelled"):
            raise ConfigError(
                f"{self.manifest_path} records job {previous.job_id}, which ended "
                f"{previous.status}; pass a new manifest path to try again"
            )

    @staticmethod
    def _reuse_uploads(previous: RunManifest, manifest: RunManifest) -> bool:
        """Copy file ids uploaded by an interrupted start for identical files."""
        reused = False
        pairs = ((previous.training, manifest.training), (previous.validation, manifest.validation))
        for old, new in pairs:
            if old is not None and new is not None and old.sha256 == new.sha256 and old.file_id:
                new.file_id, new.uploaded_at = old.file_id, old.uploaded_at
                reused = True
        return reused

    def _upload(self, record: FileRecord, manifest: RunManifest) -> None:
        uploaded = self.client.files.create(file=Path(record.path), purpose="fine-tune")
        record.file_id, record.uploaded_at = uploaded.id, utc_now()
        manifest.save(self.manifest_path)

    def _adopt_existing_job(self, manifest: RunManifest) -> None:
        """After a crash between job creation and saving its id, find that job instead."""
        training_id = manifest.training.file_id
        validation_id = None if manifest.validation is None else manifest.validation.file_id
        for job in self.client.fine_tuning.jobs.list(limit=100).data:  # newest 100 suffice
            if (
                job.training_file == training_id
                and job.validation_file == validation_id
                and job.model == manifest.config.model
                and job.status in _ADOPTABLE_STATUSES
            ):
                manifest.job_id = job.id
                manifest.record_status(job.status)
                manifest.save(self.manifest_path)
                return

    def _create_job(self, manifest: RunManifest) -> None:
        config = manifest.config
        kwargs: dict[str, Any] = {
            "model": config.model,
            "training_file": manifest.training.file_id,
            "method": config.method_payload(),
        }
        if manifest.validation is not None:
            kwargs["validation_file"] = manifest.validation.file_id
        if config.suffix is not None:
            kwargs["suffix"] = config.suffix
        if config.seed is not None:
            kwargs["seed"] = config.seed
        job = self.client.fine_tuning.jobs.create(**kwargs)
        manifest.job_id = job.id
        manifest.record_status(job.status)
        manifest.save(self.manifest_path)

    # -- following --------------------------------------------------------------------------
    def _load_with_job(self) -> RunManifest:
        manifest = RunManifest.load(self.manifest_path)
        if manifest.job_id is None:
            raise ConfigError(
                f"{self.manifest_path} records no job yet; call FineTuner.start first"
            )
        return manifest

    def _refresh(self, manifest: RunManifest) -> None:
        """Fetch the job, its new events and checkpoints; save the manifest if anything changed."""
        job_id = str(manifest.job_id)
        job = self.client.fine_tuning.jobs.retrieve(job_id)
        changed = manifest.record_status(job.status)
        changed |= self._new_events(manifest, job_id)
        if job.status in ("running", "succeeded"):  # checkpoints exist only from then on
            changed |= self._new_checkpoints(manifest, job_id)
        if job.status == "succeeded":
            manifest.fine_tuned_model = job.fine_tuned_model
            manifest.trained_tokens = job.trained_tokens
            manifest.billed_cost_usd = self._billed(manifest)
        if job.status == "failed":
            error = job.error
            message = "the job failed without an error message"
            if error is not None and error.message:
                message = error.message + (f" (code {error.code})" if error.code else "")
            manifest.error = redact(message)
        if changed or manifest.done:
            manifest.save(self.manifest_path)

    def _new_events(self, manifest: RunManifest, job_id: str) -> bool:
        seen = {e.id for e in manifest.events}
        fresh: list[EventRecord] = []
        for event in self.client.fine_tuning.jobs.list_events(job_id, limit=100):
            if event.id in seen:
                break  # events come newest first: the rest were recorded before
            fresh.append(
                EventRecord(
                    id=event.id,
                    created_at=event.created_at,
                    level=event.level,
                    message=event.message,
                )
            )
        manifest.events.extend(reversed(fresh))
        return bool(fresh)

    def _new_checkpoints(self, manifest: RunManifest, job_id: str) -> bool:
        seen = {c.id for c in manifest.checkpoints}
        fresh = [
            CheckpointRecord(
                id=c.id,
                step_number=c.step_number,
                fine_tuned_model_checkpoint=c.fine_tuned_model_checkpoint,
                created_at=c.created_at,
                metrics={k: v for k, v in c.metrics.model_dump().items() if v is not None},
            )
            for c in self.client.fine_tuning.jobs.checkpoints.list(job_id, limit=100)
            if c.id not in seen
        ]
        manifest.checkpoints.extend(sorted(fresh, key=lambda c: c.step_number))
        return bool(fresh)

    def _billed(self, manifest: RunManifest) -> float | None:
        from llmrec.openai_api.prices import training_price

        if manifest.trained_tokens is None:
            return None
        try:
            per_million = training_price(manifest.config.model, self.prices)
        except ConfigError:
            return None  # a model the price table does not know (e.g. a local server's)
        return manifest.trained_tokens * per_million / 1e6

    def _finish(self, manifest: RunManifest) -> JobState:
        if manifest.status == "failed":
            raise BackendError(
                f"fine-tuning job {manifest.job_id} failed: {manifest.error}; "
                f"recorded in {self.manifest_path}"
            )
        return self._state(manifest)

    def _state(self, manifest: RunManifest) -> JobState:
        return JobState(
            manifest=self.manifest_path,
            job_id=manifest.job_id,
            status=manifest.status,
            model=manifest.config.model,
            fine_tuned_model=manifest.fine_tuned_model,
            trained_tokens=manifest.trained_tokens,
            estimated_cost_usd=manifest.estimated_cost_usd,
            billed_cost_usd=manifest.billed_cost_usd,
            error=manifest.error,
        )
