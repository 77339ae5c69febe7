"""Simulated fine-tuning jobs for the local server.

A job walks ``validating_files → queued → running → succeeded`` with each status lasting
``step_seconds`` (the clock is ``time.monotonic``; a job advances whenever the server looks at it).
While running it writes one checkpoint per epoch, evenly spread over the running step. It ends in
``failed`` when its training file breaks the format checks OpenAI applies (JSON object per line
with a ``messages`` list, an assistant message, at least 10 examples; for a DPO job the preference
format of :mod:`llmrec.testing.openai_server._preferences`), or when a test asked for a failure;
``cancel`` ends it in ``cancelled``.

Trained tokens are ``n_epochs`` times the token count of every message's content in the training
file (the server's token counter; whitespace words unless another counter is given). The training
metrics in checkpoints and events are simulated: the loss is ``1 / (1 + epoch)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from llmrec.testing.openai_server._preferences import check_preference_file, dpo_beta
from llmrec.testing.openai_server._state import (
    APIError,
    FileStore,
    IdMaker,
    TimedStore,
    TokenCounter,
    check_training_file,
    paginate,
)

__all__ = ["JobStore"]

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
_AUTO = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 2.0}


@dataclass
class _Job:
    api: dict[str, Any]
    started: float
    step: float
    n_examples: int = 0
    file_tokens: int = 0
    file_error: str | None = None
    fail_error: tuple[str, str] | None = None
    phase: int = 0  # 0 validating, 1 queued, 2 running, 3 terminal
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    model_name: str = ""
    trained_tokens: int | None = None


def _method_type(body: dict[str, Any]) -> str:
    method = body.get("method")
    if method is None:
        return "supervised"
    if not isinstance(method, dict) or method.get("type") not in ("supervised", "dpo"):
        raise APIError(
            400,
            "the local server simulates only method types 'supervised' and 'dpo'",
            param="method",
        )
    kind = str(method["type"])
    if not isinstance(method.get(kind) or {}, dict):
        raise APIError(400, f"method.{kind} must be an object", param=f"method.{kind}")
    return kind


def _hyperparameters(body: dict[str, Any]) -> dict[str, Any]:
    method = body.get("method")
    given: Any = body.get("hyperparameters") or {}
    if method is not None:
        kind = _method_type(body)
        given = (method.get(kind) or {}).get("hyperparameters") or {}
    if not isinstance(given, dict):
        raise APIError(400, "hyperparameters must be an object", param="hyperparameters")
    out: dict[str, Any] = {}
    bounds = {"n_epochs": (1, 50), "batch_size": (1, 256), "learning_rate_multiplier": (0, 1e3)}
    for name, (low, high) in bounds.items():
        value = given.get(name, "auto")
        if value == "auto":
            value = _AUTO[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if name != "learning_rate_multiplier":
            ok = ok and isinstance(value, int)
        if not ok or not low <= value <= high or (low == 0 and value == 0):
            raise APIError(400, f"invalid {name}: {value!r}", param=f"hyperparameters.{name}")
        out[name] = value
    return out


def _chat_messages(lineno: int, obj: Any) -> list[dict[str, Any]] | str:
    """The messages of one chat fine-tuning line, or why the file fails."""
    messages = obj.get("messages") if isinstance(obj, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return f'Invalid file format. Line {lineno}, key "messages" is missing.'
    if not any(m.get("role") == "assistant" for m in messages):
        return f"Invalid file format. Line {lineno} has no assistant message."
    return messages


class JobStore(TimedStore[_Job]):
    """Fine-tuning jobs by id, in creation order. Callers hold the server's state lock."""

    kind = "fine-tuning job"

    def __init__(self, files: FileStore, ids: IdMaker, counter: TokenCounter, step: float) -> None:
        super().__init__()
        self._files = files
        self._ids = ids
        self._counter = counter
        self.step = step
        self.next_model: str | None = None
        self.next_tokens: int | None = None
        self.fail_next: tuple[str, str] | None = None

    # -- requests ---------------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise APIError(400, "you must provide a model parameter", param="model")
        training = str(self._file_param(body, "training_file", required=True))
        validation = self._file_param(body, "validation_file", required=False)
        suffix = body.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
            raise APIError(400, "suffix must be a string of up to 64 characters", param="suffix")
        kind = _method_type(body)
        hyper = _hyperparameters(body)
        method_hyper = dict(hyper)
        if kind == "dpo":
            method_hyper["beta"] = dpo_beta(
                body["method"].get("dpo", {}).get("hyperparameters") or {}
            )
        job_id = self._ids.new("ftjob-")
        seed = body.get("seed")
        now = int(time.time())
        api: dict[str, Any] = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": now,
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": dict(hyper),
            "model": model,
            "organization_id": "org-llmrec-local",
            "result_files": [],
            "seed": int(seed) if isinstance(seed, int) else int(job_id[-6:], 16),
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": training,
            "validation_file": validation,
            "estimated_finish": now + math.ceil(3 * self.step),
            "integrations": [],
            "metadata": body.get("metadata"),
            "method": {"type": kind, kind: {"hyperparameters": method_hyper}},
            "user_provided_suffix": suffix,
        }
        job = _Job(api=api, started=time.monotonic(), step=self.step)
        content = self._files.get(training).content
        if kind == "dpo":
            n, tokens, error = check_preference_file(content, self._counter)
        else:
            n, tokens, error = check_training_file(content, self._counter, _chat_messages)
        job.n_examples, job.file_tokens, job.file_error = n, tokens, error
        job.model_name = self.next_model or f"ft:{model}:llmrec-local:{suffix or ''}:{job_id[-8:]}"
        job.trained_tokens = self.next_tokens
        job.fail_error, self.fail_next = self.fail_next, None
        self.items[job_id] = job
        self._event(job, f"Created fine-tuning job: {job_id}", now)
        self._event(job, f"Validating training file: {training}", now)
        return dict(api)

    def events(self, job_id: str, *, after: str | None, limit: int) -> dict[str, Any]:
        job = self.find(job_id)
        return paginate(list(reversed(job.events)), after=after, limit=limit)

    def checkpoints(self, job_id: str, *, after: str | None, limit: int) -> dict[str, Any]:
        job = self.find(job_id)
        return paginate(list(reversed(job.checkpoints)), after=after, limit=limit, with_ids=True)

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self.find(job_id)
        if job.phase == 3:
            raise APIError(400, f"Job {job_id} has already {job.api['status']}.", param="id")
        now = int(time.time())
        job.phase = 3
        job.api.update(status="cancelled", finished_at=now, estimated_finish=None)
        self._event(job, "Fine-tuning job cancelled", now)
        return dict(job.api)

    def fail(self, job_id: str, message: str, code: str) -> None:
        """Make a job that has not finished end in ``failed`` when it would have succeeded."""
        job = self.find(job_id)
        if job.phase == 3:
            raise ValueError(f"job {job_id} has already ended ({job.api['status']})")
        job.fail_error = (message, code)

    def override(self, job_id: str, model: str | None, tokens: int | None) -> None:
        job = self.find(job_id)
        if job.phase == 3:
            raise ValueError(f"job {job_id} has already ended ({job.api['status']})")
        job.model_name = model or job.model_name
        job.trained_tokens = tokens if tokens is not None else job.trained_tokens

    # -- time -------------------------------------------------------------------------------
    def _advance(self, job: _Job) -> None:
        elapsed = time.monotonic() - job.started
        while job.phase < 3:
            if job.phase == 2:
                self._write_checkpoints(job, elapsed)
            if elapsed < (job.phase + 1) * job.step:
                return
            at = job.api["created_at"] + int((job.phase + 1) * job.step)
            if job.phase == 0 and job.file_error is not None:
                self._finish_failed(job, at, job.file_error, "invalid_training_file")
            elif job.phase == 0:
                job.phase = 1
                job.api["status"] = "queued"
                self._event(job, "Files validated, moving job to queued state", at)
            elif job.phase == 1:
                job.phase = 2
                job.api["status"] = "running"
                self._event(job, "Fine-tuning job started", at)
            elif job.fail_error is not None:
                self._finish_failed(job, at, *job.fail_error)
            else:
                self._finish_succeeded(job, at)

    def _write_checkpoints(self, job: _Job, elapsed: float) -> None:
        hyper = job.api["hyperparameters"]
        epochs = int(hyper["n_epochs"])
        per_epoch = max(1, math.ceil(job.n_examples / int(hyper["batch_size"])))
        while len(job.checkpoints) < epochs:
            epoch = len(job.checkpoints) + 1
            if elapsed < job.step * (2 + epoch / epochs):
                return
            at = job.api["created_at"] + int(job.step * (2 + epoch / epochs))
            step = epoch * per_epoch
            loss = 1.0 / (1.0 + epoch)
            metrics = {"step": float(step), "train_loss": loss}
            metrics["train_mean_token_accuracy"] = 1 - loss
            if job.api["validation_file"] is not None:
                metrics.update(valid_loss=loss * 1.1, valid_mean_token_accuracy=1 - loss * 1.1)
            job.checkpoints.append(
                {
                    "id": self._ids.new("ftckpt_"),
                    "object": "fine_tuning.job.checkpoint",
                    "created_at": at,
                    "fine_tuned_model_checkpoint": f"{job.model_name}:ckpt-step-{step}",
                    "fine_tuning_job_id": job.api["id"],
                    "metrics": metrics,
                    "step_number": step,
                }
            )
            total = epochs * per_epoch
            self._event(job, f"Step {step}/{total}: training loss={loss:.4f}", at, "metrics")
            self._event(job, f"Checkpoint created at step {step}", at)

    def _finish_succeeded(self, job: _Job, at: int) -> None:
        epochs = int(job.api["hyperparameters"]["n_epochs"])
        tokens = job.trained_tokens if job.trained_tokens is not None else epochs * job.file_tokens
        rows = [f"{c['step_number']},{c['metrics']['train_loss']:.6f}" for c in job.checkpoints]
        results = self._files.add(
            "step_metrics.csv",
            "fine-tune-results",
            ("step,train_loss\n" + "\n".join(rows) + "\n").encode(),
        )
        job.phase = 3
        job.api.update(
            status="succeeded",
            fine_tuned_model=job.model_name,
            trained_tokens=tokens,
            finished_at=at,
            result_files=[results.id],
            estimated_finish=None,
        )
        self._event(job, f"New fine-tuned model created: {job.model_name}", at)
        self._event(job, "The job has successfully completed", at)

    def _finish_failed(self, job: _Job, at: int, message: str, code: str) -> None:
        job.phase = 3
        job.api.update(
            status="failed",
            finished_at=at,
            estimated_finish=None,
            error={"code": code, "message": message, "param": None},
        )
        self._event(job, f"The job failed: {message}", at, level="error")

    def _event(
        self, job: _Job, message: str, at: int, kind: str = "message", level: str = "info"
    ) -> None:
        job.events.append(
            {
                "id": self._ids.new("ftevent-"),
                "object": "fine_tuning.job.event",
                "created_at": at,
                "level": level,
                "message": message,
                "data": {},
                "type": kind,
            }
        )

    def _file_param(self, body: dict[str, Any], name: str, *, required: bool) -> str | None:
        value = body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise APIError(400, f"you must provide a {name}", param=name)
        stored = self._files.files.get(value)
        if stored is None:
            raise APIError(400, f"invalid {name}: {value}", param=name, code="invalid_file")
        if stored.purpose != "fine-tune":
            raise APIError(
                400,
                f"{name} {value} has purpose '{stored.purpose}', expected 'fine-tune'",
                param=name,
                code="invalid_file",
            )
        return value
