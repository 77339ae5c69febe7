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

The requests themselves are handled by ``_core.ServerCore``; this class owns the socket and
the thread, and the methods a test scripts the server with.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from llmrec.testing.openai_server._chat import ChatFunction, echo_last_user_message
from llmrec.testing.openai_server._core import RecordedRequest, ServerCore
from llmrec.testing.openai_server._faults import Fault
from llmrec.testing.openai_server._http import Server
from llmrec.testing.openai_server._logprobs import LogprobFunction, PromptLogprobFunction
from llmrec.testing.openai_server._state import TokenCounter

__all__ = ["LocalOpenAIServer", "RecordedRequest", "main"]

_CHAT_PATH = "/v1/chat/completions"


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
    OpenAI-compatible server does for the types it does not support. ``logprobs`` (a request
    body -> the first answer token's ``{token: logprob}``) and ``prompt_logprob`` ((prompt
    token, position) -> logprob; :func:`~._logprobs.hashed_logprob` is a deterministic choice)
    script the log-probabilities served to ``logprobs: true`` and to vLLM's
    ``prompt_logprobs`` (see :mod:`._logprobs`); left out, the server has none.
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
        logprobs: LogprobFunction | None = None,
        prompt_logprob: PromptLogprobFunction | None = None,
    ) -> None:
        for name, value in (
            ("latency", latency),
            ("fine_tune_step_seconds", fine_tune_step_seconds),
            ("batch_step_seconds", batch_step_seconds),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.host = host
        self.port = port
        self._core = ServerCore(
            chat,
            latency=latency,
            fine_tune_step_seconds=fine_tune_step_seconds,
            batch_step_seconds=batch_step_seconds,
            token_counter=token_counter,
            api_key=api_key,
            reject_response_formats=reject_response_formats,
            logprobs=logprobs,
            prompt_logprob=prompt_logprob,
        )
        self._httpd: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def latency(self) -> float:
        """Seconds from a chat request's arrival to its answer; may be changed while serving."""
        return self._core.latency

    @latency.setter
    def latency(self, value: float) -> None:
        self._core.latency = value

    @property
    def reject_response_formats(self) -> frozenset[str]:
        """``response_format`` types answered with HTTP 500, as llama.cpp does."""
        return self._core.reject_response_formats

    @reject_response_formats.setter
    def reject_response_formats(self, value: Sequence[str]) -> None:
        self._core.reject_response_formats = frozenset(value)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> LocalOpenAIServer:
        """Bind and serve on a daemon thread; returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("the server is already running")
        self._core.stopping.clear()
        self._httpd = Server((self.host, self.port), self._core)
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
        self._core.stopping.set()
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
        return self._core.requests()

    def clear_requests(self) -> None:
        self._core.clear_requests()

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """``{file id: file object}`` for every stored file (uploads and server outputs)."""
        with self._core.lock:
            return {k: f.to_api() for k, f in self._core.files.files.items()}

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a stored file."""
        with self._core.lock:
            return self._core.files.get(file_id).content

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        """``{job id: fine-tuning job object}``, advanced to the current time."""
        with self._core.lock:
            self._core.jobs.advance_all()
            return {k: dict(j.api) for k, j in self._core.jobs.items.items()}

    @property
    def batches(self) -> dict[str, dict[str, Any]]:
        """``{batch id: batch object}``, advanced to the current time."""
        with self._core.lock:
            self._core.batches.advance_all()
            return {k: dict(b.api) for k, b in self._core.batches.items.items()}

    # -- behaviour --------------------------------------------------------------------------
    def set_chat(self, fn: ChatFunction | None) -> None:
        """Answer later chat requests with ``fn`` (``None``: echo the last user message)."""
        with self._core.lock:
            self._core.chat = fn or echo_last_user_message

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
        self._core.faults.add_counted(
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
        self._core.faults.add_random(
            rate,
            statuses=tuple(statuses),
            seed=seed,
            once_per_request_body=once_per_request_body,
            retry_after=retry_after,
            path_prefix=path_prefix,
        )

    def drop_next(self, n: int, *, path_prefix: str = _CHAT_PATH) -> None:
        """Close the connection of the next ``n`` matching requests without answering."""
        self._core.faults.add_counted(Fault("drop"), n, path_prefix)

    def slow_next(self, n: int, seconds: float, *, path_prefix: str = _CHAT_PATH) -> None:
        """Delay the answer to the next ``n`` matching requests by ``seconds``."""
        self._core.faults.add_counted(Fault("slow", seconds=seconds), n, path_prefix)

    def reset_failures(self) -> None:
        """Forget every failure, drop and delay rule."""
        self._core.faults.reset()

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
        with self._core.lock:
            if job_id is not None:
                self._core.jobs.override(job_id, fine_tuned_model, trained_tokens)
            else:
                self._core.jobs.next_model = fine_tuned_model
                self._core.jobs.next_tokens = trained_tokens

    def fail_job(
        self, job_id: str | None = None, *, error: str = "Simulated failure", code: str = "failed"
    ) -> None:
        """Make a job end in ``failed`` (with ``error``) where it would have succeeded.

        Without ``job_id`` this applies to the next job created.
        """
        with self._core.lock:
            if job_id is None:
                self._core.jobs.fail_next = (error, code)
            else:
                self._core.jobs.fail(job_id, error, code)


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
