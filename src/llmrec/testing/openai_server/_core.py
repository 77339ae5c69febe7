"""The local server's state and request path, apart from its socket and its scripting API.

:class:`ServerCore` is what the HTTP layer talks to (:class:`~._interface.Exchange`: record a
request, answer it, note the status) and what the routes read and change
(:class:`~._interface.ServerState`: the stores, the chat function, the latency).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from llmrec.testing.openai_server._batches import BatchStore
from llmrec.testing.openai_server._chat import ChatFunction, echo_last_user_message
from llmrec.testing.openai_server._faults import Fault, FaultPlan
from llmrec.testing.openai_server._interface import Call, Reply
from llmrec.testing.openai_server._jobs import JobStore
from llmrec.testing.openai_server._logprobs import LogprobFunction, PromptLogprobFunction
from llmrec.testing.openai_server._routes import find_route
from llmrec.testing.openai_server._state import (
    APIError,
    FileStore,
    IdMaker,
    TokenCounter,
    whitespace_tokens,
)

__all__ = ["RecordedRequest", "ServerCore"]


class _Headers(dict[str, str]):
    """A plain dict of request headers whose look-ups ignore case (``h["authorization"]``)."""

    def __init__(self, items: dict[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in items.items()})

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, as seen on the wire.

    ``headers`` keys are lower case and look-ups ignore case; ``body`` is the parsed JSON object,
    the raw bytes (multipart uploads, non-JSON bodies) or ``None`` when empty; ``time`` is
    ``time.time()`` on arrival; ``status`` is the HTTP status answered (``None`` for a dropped
    request or one still in progress).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | bytes | None
    time: float
    query: dict[str, str] = field(default_factory=dict)
    status: int | None = None


class ServerCore:
    """The stores, the settings and the request log of one local server (see
    ``LocalOpenAIServer`` for what each argument means)."""

    def __init__(
        self,
        chat: ChatFunction | None,
        *,
        latency: float,
        fine_tune_step_seconds: float,
        batch_step_seconds: float,
        token_counter: TokenCounter | None,
        api_key: str | None,
        reject_response_formats: Sequence[str],
        logprobs: LogprobFunction | None = None,
        prompt_logprob: PromptLogprobFunction | None = None,
    ) -> None:
        self.latency = latency
        self.logprobs = logprobs
        self.prompt_logprob = prompt_logprob
        self.chat: ChatFunction = chat or echo_last_user_message
        self.token_counter: TokenCounter = token_counter or whitespace_tokens
        self.api_key = api_key
        self.reject_response_formats: frozenset[str] = frozenset(reject_response_formats)
        self.lock = threading.Lock()
        self.faults = FaultPlan()
        self.ids = IdMaker()
        self.files = FileStore(self.ids)
        self.jobs = JobStore(self.files, self.ids, self.token_counter, fine_tune_step_seconds)
        self.batches = BatchStore(self.files, self.ids, batch_step_seconds)
        self.stopping = threading.Event()
        self._log_lock = threading.Lock()
        self._log: list[tuple[int, RecordedRequest]] = []  # (sequence number, record)
        self._seq = itertools.count()

    # -- the request log --------------------------------------------------------------------
    def requests(self) -> list[RecordedRequest]:
        with self._log_lock:
            return [record for _, record in self._log]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    # -- Exchange: called by the HTTP handler -----------------------------------------------
    def record(self, call: Call) -> int:
        body: dict[str, Any] | bytes | None
        body = call.json if isinstance(call.json, dict) else call.raw or None
        record = RecordedRequest(
            method=call.method,
            path=call.path,
            headers=_Headers(call.headers),
            body=body,
            time=time.time(),
            query=dict(call.query),
        )
        with self._log_lock:
            seq = next(self._seq)
            self._log.append((seq, record))
            return seq

    def set_status(self, seq: int, status: int) -> None:
        """Fill in the answered status (the record may be gone after ``clear_requests``)."""
        with self._log_lock:
            for i in range(len(self._log) - 1, -1, -1):
                if self._log[i][0] == seq:
                    self._log[i] = (seq, replace(self._log[i][1], status=status))
                    return

    def pause(self, seconds: float) -> None:
        self.stopping.wait(seconds)

    def respond(self, call: Call) -> Reply | None:
        fault = self.faults.decide(call.path, call.raw)
        if fault is not None and fault.kind == "drop":
            return None
        if fault is not None and fault.kind == "slow":
            self.stopping.wait(fault.seconds)
            # the delay comes on top of the latency, which now counts from here
            call = replace(call, received=call.received + fault.seconds)
        if fault is not None and fault.kind == "fail":
            return _fault_reply(fault)
        try:
            self._check_auth(call.headers)
            route, match = find_route(call.method, call.path)
            return route(self, call, match)
        except APIError as exc:
            return _error_reply(exc)
        except Exception as exc:  # a bug or a bad request the routes did not foresee
            return _error_reply(
                APIError(500, f"internal error: {type(exc).__name__}: {exc}", type="server_error")
            )

    def _check_auth(self, headers: dict[str, str]) -> None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, key = value.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise APIError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if self.api_key is not None and key.strip() != self.api_key:
            raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")


def _error_reply(exc: APIError, headers: dict[str, str] | None = None) -> Reply:
    return Reply(exc.status, exc.body, headers)


def _fault_reply(fault: Fault) -> Reply:
    status = fault.status
    kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "server_error")
    body = fault.body or {
        "error": {
            "message": f"Injected failure (HTTP {status}) from the local test server.",
            "type": "requests" if status == 429 else "server_error",
            "param": None,
            "code": kind,
        }
    }
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        seconds = max(0.0, fault.retry_after)
        headers["Retry-After"] = str(int(-(-seconds // 1)))
        headers["retry-after-ms"] = str(round(seconds * 1000))
    return Reply(status, body, headers)
