"""``LocalOpenAIServer``: an OpenAI-compatible HTTP server on loopback, for tests and offline demos.

Point the official SDK at it and nothing needs patching::

    with LocalOpenAIServer(chat=lambda body: "1. Heat (1995)") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])

It serves chat completions (answered by a Python function), files, fine-tuning jobs and batches
whose statuses advance with time, and it can fail, drop or delay requests on demand so retry and
resume logic is tested over real HTTP. Response shapes follow OpenAI's API description; see
``docs/local-server.md`` for what is simulated and how. Run it on its own with
``python -m llmrec.testing.server --port 8000``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from llmrec.testing._server_batches import BatchStore
from llmrec.testing._server_chat import ChatFunction, echo_last_user_message
from llmrec.testing._server_faults import Fault, FaultPlan
from llmrec.testing._server_http import Call, Reply, Server
from llmrec.testing._server_jobs import JobStore
from llmrec.testing._server_routes import find_route
from llmrec.testing._server_state import (
    APIError,
    FileStore,
    IdMaker,
    TokenCounter,
    whitespace_tokens,
)

__all__ = ["LocalOpenAIServer", "RecordedRequest", "main"]

_CHAT_PATH = "/v1/chat/completions"


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


def _error_reply(exc: APIError, headers: dict[str, str] | None = None) -> Reply:
    return Reply(exc.status, exc.body, headers)


class LocalOpenAIServer:
    """OpenAI-compatible server on a background thread; use as a context manager.

    ``chat`` receives each chat request's JSON body and returns the assistant's text (wrapped in a
    ``chat.completion``) or a whole response dict sent as is; the default echoes the last user
    message. ``latency`` is how long after its arrival each chat completion is answered (the
    reply is built meanwhile, so the server adds nothing on top); ``fine_tune_step_seconds`` and
    ``batch_step_seconds`` are how long each fine-tuning / batch status lasts. ``token_counter``
    counts tokens for ``usage`` and ``trained_tokens`` (whitespace words by default). With
    ``api_key`` set, only that key is accepted; otherwise any ``Authorization: Bearer`` key is.
    ``reject_response_formats`` names ``response_format`` types (``"json_schema"``,
    ``"json_object"``) answered with HTTP 500 and llama.cpp's message, as llama.cpp's
    OpenAI-compatible server does for the types it does not support.
    """

    def __init__(
        self,
        chat: ChatFunction | None = None,
        *,
        latency: float = 0.0,
        fine_tune_step_seconds: float = 0.05,
        batch_step_seconds: float = 0.05,
        host: str = "127.0.0.1",
        port: int = 0,
        token_counter: TokenCounter | None = None,
        api_key: str | None = None,
        reject_response_formats: Sequence[str] = (),
    ) -> None:
        for name, value in (
            ("latency", latency),
            ("fine_tune_step_seconds", fine_tune_step_seconds),
            ("batch_step_seconds", batch_step_seconds),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.latency = latency
        self.host = host
        self.port = port
        self._chat: ChatFunction = chat or echo_last_user_message
        self._token_counter: TokenCounter = token_counter or whitespace_tokens
        self._api_key = api_key
        self.reject_response_formats: frozenset[str] = frozenset(reject_response_formats)
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._log: list[tuple[int, RecordedRequest]] = []  # (sequence number, record)
        self._seq = itertools.count()
        self._faults = FaultPlan()
        self._ids = IdMaker()
        self._files = FileStore(self._ids)
        self._jobs = JobStore(self._files, self._ids, self._token_counter, fine_tune_step_seconds)
        self._batches = BatchStore(self._files, self._ids, batch_step_seconds)
        self._stopping = threading.Event()
        self._httpd: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> LocalOpenAIServer:
        """Bind and serve on a daemon thread; returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("the server is already running")
        self._stopping.clear()
        self._httpd = Server((self.host, self.port), self)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"llmrec-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and release the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> LocalOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, for ``openai.OpenAI(base_url=...)``."""
        if self._httpd is None:
            raise RuntimeError("the server is not running; use it as a context manager")
        return f"http://{self.host}:{self.port}/v1"

    # -- inspection -------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._log_lock:
            return [record for _, record in self._log]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """``{file id: file object}`` for every stored file (uploads and server outputs)."""
        with self._lock:
            return {k: f.to_api() for k, f in self._files.files.items()}

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a stored file."""
        with self._lock:
            return self._files.get(file_id).content

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        """``{job id: fine-tuning job object}``, advanced to the current time."""
        with self._lock:
            self._jobs.advance_all()
            return {k: dict(j.api) for k, j in self._jobs.jobs.items()}

    @property
    def batches(self) -> dict[str, dict[str, Any]]:
        """``{batch id: batch object}``, advanced to the current time."""
        with self._lock:
            self._batches.advance_all()
            return {k: dict(b.api) for k, b in self._batches.batches.items()}

    # -- behaviour --------------------------------------------------------------------------
    def set_chat(self, fn: ChatFunction | None) -> None:
        """Answer later chat requests with ``fn`` (``None``: echo the last user message)."""
        with self._lock:
            self._chat = fn or echo_last_user_message

    def fail_next(
        self,
        n: int,
        *,
        status: int = 429,
        retry_after: float | None = 1.0,
        path_prefix: str = _CHAT_PATH,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` and an OpenAI-style error.

        ``retry_after`` (seconds) is sent as ``Retry-After`` (whole seconds, rounded up) and
        ``retry-after-ms``, which the openai SDK prefers; ``body`` replaces the error JSON.
        """
        self._faults.add_counted(
            Fault("fail", status=status, retry_after=retry_after, body=body), n, path_prefix
        )

    def fail_randomly(
        self,
        rate: float,
        *,
        statuses: Sequence[int] = (429, 500),
        seed: int = 0,
        once_per_request_body: bool = True,
        retry_after: float | None = 0.0,
        path_prefix: str = _CHAT_PATH,
    ) -> None:
        """Fail a ``rate`` fraction of matching requests, chosen from ``seed`` and the body.

        With ``once_per_request_body`` a given body fails at most once, so a retry succeeds.
        """
        self._faults.add_random(
            rate,
            statuses=tuple(statuses),
            seed=seed,
            once_per_request_body=once_per_request_body,
            retry_after=retry_after,
            path_prefix=path_prefix,
        )

    def drop_next(self, n: int, *, path_prefix: str = _CHAT_PATH) -> None:
        """Close the connection of the next ``n`` matching requests without answering."""
        self._faults.add_counted(Fault("drop"), n, path_prefix)

    def slow_next(self, n: int, seconds: float, *, path_prefix: str = _CHAT_PATH) -> None:
        """Delay the answer to the next ``n`` matching requests by ``seconds``."""
        self._faults.add_counted(Fault("slow", seconds=seconds), n, path_prefix)

    def reset_failures(self) -> None:
        """Forget every failure, drop and delay rule."""
        self._faults.reset()

    def succeed_job_with(
        self,
        *,
        fine_tuned_model: str | None = None,
        trained_tokens: int | None = None,
        job_id: str | None = None,
    ) -> None:
        """Set the model id / trained tokens a job reports on success.

        With ``job_id`` it applies to that unfinished job, otherwise to the next job created.
        """
        with self._lock:
            if job_id is not None:
                self._jobs.override(job_id, fine_tuned_model, trained_tokens)
            else:
                self._jobs.next_model = fine_tuned_model
                self._jobs.next_tokens = trained_tokens

    def fail_job(
        self, job_id: str | None = None, *, error: str = "Simulated failure", code: str = "failed"
    ) -> None:
        """Make a job end in ``failed`` (with ``error``) where it would have succeeded.

        Without ``job_id`` this applies to the next job created.
        """
        with self._lock:
            if job_id is None:
                self._jobs.fail_next = (error, code)
            else:
                self._jobs.fail(job_id, error, code)

    # -- request path (called by the HTTP handler) ------------------------------------------
    def _record(self, call: Call) -> int:
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

    def _set_status(self, seq: int, status: int) -> None:
        """Fill in the answered status (the record may be gone after ``clear_requests``)."""
        with self._log_lock:
            for i in range(len(self._log) - 1, -1, -1):
                if self._log[i][0] == seq:
                    self._log[i] = (seq, replace(self._log[i][1], status=status))
                    return

    def _respond(self, call: Call) -> Reply | None:
        fault = self._faults.decide(call.path, call.raw)
        if fault is not None and fault.kind == "drop":
            return None
        if fault is not None and fault.kind == "slow":
            self._stopping.wait(fault.seconds)
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
        if self._api_key is not None and key.strip() != self._api_key:
            raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")


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


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted: ``python -m llmrec.testing.server --port 8000``."""
    parser = argparse.ArgumentParser(
        prog="python -m llmrec.testing.server",
        description="An OpenAI-compatible server on this machine, for offline demos and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per chat reply")
    parser.add_argument("--fine-tune-step-seconds", type=float, default=5.0)
    parser.add_argument("--batch-step-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    server = LocalOpenAIServer(
        latency=args.latency,
        fine_tune_step_seconds=args.fine_tune_step_seconds,
        batch_step_seconds=args.batch_step_seconds,
        host=args.host,
        port=args.port,
    )
    with server:
        print(f"serving OpenAI-compatible API at {server.base_url} (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
