"""Simulated Batch API for the local server (endpoint ``/v1/chat/completions`` only).

A batch walks ``validating → in_progress → finalizing → completed``, each status lasting
``step_seconds``. Its input lines are answered by the chat function when the batch is created, in
input order; the output file (and the error file, if any line failed) appears on completion. The
real API may answer lines in any order, so callers must match output lines by ``custom_id``.
An input file that breaks the format (bad JSON, missing or repeated ``custom_id``, wrong ``url``
or ``method``) makes the batch end in ``failed`` with ``errors``; ``cancel`` passes through
``cancelling`` to ``cancelled`` without writing output.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from llmrec.testing.openai_server._chat import ChatFunction, check_chat_request, complete
from llmrec.testing.openai_server._state import (
    NOT_JSON,
    APIError,
    FileStore,
    IdMaker,
    TimedStore,
    TokenCounter,
    jsonl_lines,
)

__all__ = ["BatchResult", "BatchStore", "run_batch"]

ENDPOINT = "/v1/chat/completions"
_PHASES = ("validating", "in_progress", "finalizing", "completed")


@dataclass
class BatchResult:
    """The answers to a batch's input lines (or the reasons the input was rejected)."""

    output: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None


def _invalid(line: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def run_batch(
    content: bytes, chat: ChatFunction, ids: IdMaker, counter: TokenCounter
) -> BatchResult:
    """Check every input line, then answer each through ``chat``, in input order."""
    result = BatchResult()
    requests: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for lineno, obj in jsonl_lines(content):
        if obj is NOT_JSON:
            result.invalid.append(_invalid(lineno, "invalid_json", "line is not valid JSON"))
            continue
        if not isinstance(obj, dict):
            result.invalid.append(_invalid(lineno, "invalid_json", "line is not a JSON object"))
            continue
        custom_id = obj.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            result.invalid.append(_invalid(lineno, "missing_required_parameter", "", "custom_id"))
            continue
        if custom_id in seen:
            message = f"custom_id '{custom_id}' is repeated"
            result.invalid.append(_invalid(lineno, "duplicate_custom_id", message, "custom_id"))
            continue
        seen.add(custom_id)
        if obj.get("method") != "POST" or obj.get("url") != ENDPOINT:
            message = f"each line must be a POST to {ENDPOINT}"
            result.invalid.append(_invalid(lineno, "invalid_url", message, "url"))
            continue
        requests.append((custom_id, obj.get("body")))
    if not requests and not result.invalid:
        result.invalid.append(_invalid(0, "empty_file", "the input file has no requests"))
    if result.invalid:
        return result
    for custom_id, body in requests:
        request_id = ids.new("req_")
        line: dict[str, Any] = {"id": ids.new("batch_req_"), "custom_id": custom_id}
        try:
            answer = complete(check_chat_request(body), chat, ids, counter)
        except APIError as exc:
            status = exc.status
            line["response"] = {"status_code": status, "request_id": request_id, "body": exc.body}
            line["error"] = None
            result.errors.append(json.dumps(line))
            continue
        result.model = result.model or body.get("model")
        line["response"] = {"status_code": 200, "request_id": request_id, "body": answer}
        line["error"] = None
        result.output.append(json.dumps(line))
    return result


@dataclass
class _Batch:
    api: dict[str, Any]
    result: BatchResult
    started: float
    phase: int = 0
    cancel_started: float | None = None


class BatchStore(TimedStore[_Batch]):
    """Batches by id, in creation order. Callers hold the server's state lock."""

    kind = "batch"
    listing_ids = True

    def __init__(self, files: FileStore, ids: IdMaker, step: float) -> None:
        super().__init__()
        self._files = files
        self._ids = ids
        self.step = step

    def input_content(self, body: Any) -> bytes:
        """Check a create request and return the input file's bytes."""
        if not isinstance(body, dict):
            raise APIError(400, "the request body must be a JSON object")
        if body.get("endpoint") != ENDPOINT:
            got = body.get("endpoint")
            message = f"endpoint must be {ENDPOINT} on the local server, got {got!r}"
            raise APIError(400, message, param="endpoint")
        if body.get("completion_window") != "24h":
            raise APIError(400, "completion_window must be '24h'", param="completion_window")
        file_id = body.get("input_file_id")
        stored = self._files.files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            raise APIError(400, f"invalid input_file_id: {file_id!r}", param="input_file_id")
        if stored.purpose != "batch":
            message = f"input file {file_id} has purpose '{stored.purpose}', expected 'batch'"
            raise APIError(400, message, param="input_file_id")
        return stored.content

    def add(self, body: dict[str, Any], result: BatchResult) -> dict[str, Any]:
        now = int(time.time())
        n = len(result.output) + len(result.errors)
        api: dict[str, Any] = {
            "id": self._ids.new("batch_"),
            "object": "batch",
            "endpoint": ENDPOINT,
            "model": result.model,
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + 24 * 3600,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": n, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        batch = _Batch(api=api, result=result, started=time.monotonic())
        self.items[api["id"]] = batch
        return dict(api)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        batch = self.find(batch_id)
        if batch.api["status"] not in ("validating", "in_progress"):
            message = f"Batch {batch_id} cannot be cancelled in status '{batch.api['status']}'"
            raise APIError(400, message, param="id")
        batch.cancel_started = time.monotonic()
        batch.api.update(status="cancelling", cancelling_at=int(time.time()))
        return dict(batch.api)

    def _advance(self, batch: _Batch) -> None:
        now = time.monotonic()
        if batch.cancel_started is not None:
            if batch.api["status"] == "cancelling" and now - batch.cancel_started >= self.step:
                batch.api.update(status="cancelled", cancelled_at=int(time.time()))
            return
        while batch.phase < 3 and now - batch.started >= (batch.phase + 1) * self.step:
            at = batch.api["created_at"] + int((batch.phase + 1) * self.step)
            if batch.phase == 0 and batch.result.invalid:
                batch.phase = 3
                batch.api.update(
                    status="failed",
                    failed_at=at,
                    errors={"object": "list", "data": batch.result.invalid},
                )
                return
            batch.phase += 1
            status = _PHASES[batch.phase]
            batch.api.update({"status": status, f"{status}_at": at})
            if status == "completed":
                self._write_outputs(batch)

    def _write_outputs(self, batch: _Batch) -> None:
        bid, result = batch.api["id"], batch.result
        if result.output:
            text = "\n".join(result.output) + "\n"
            out = self._files.add(f"batch_{bid}_output.jsonl", "batch_output", text.encode())
            batch.api["output_file_id"] = out.id
        if result.errors:
            text = "\n".join(result.errors) + "\n"
            err = self._files.add(f"batch_{bid}_error.jsonl", "batch_output", text.encode())
            batch.api["error_file_id"] = err.id
        batch.api["request_counts"] = {
            "total": len(result.output) + len(result.errors),
            "completed": len(result.output),
            "failed": len(result.errors),
        }
