"""The OpenAI chat-completions transport: bounded concurrency, retries honouring Retry-After.

Requests run on at most ``max_concurrency`` threads (:func:`..concurrency.map_bounded`); each
is retried after 429, 5xx, timeouts and dropped connections with the policy of
:mod:`llmrec.openai_api.retry` (``Retry-After`` honoured, seeded jitter). Bodies are sent with the
SDK's documented raw ``post``, exactly as built and hashed for the cache. The SDK client is built
on first use by :func:`llmrec.openai_api.client.make_client` (the one key rule).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr

from llmrec.errors import BackendError
from llmrec.openai_api.client import classify, make_client
from llmrec.openai_api.keys import KEY_HELP, redact
from llmrec.openai_api.models import CHAT_PATH
from llmrec.openai_api.redact import mask_url
from llmrec.openai_api.retry import RetryPolicy, Transient, call_with_retries
from llmrec.recommenders.llm.concurrency import map_bounded
from llmrec.recommenders.llm.transports.base import (
    CONTINUATION_LOGPROBS,
    NEXT_TOKEN_LOGPROBS,
    STRUCTURED_OUTPUT,
    AnswerCallback,
    ChatAnswer,
    ChatRequest,
    ScoreTask,
    Transport,
    response_problem,
    usage,
)
from llmrec.recommenders.llm.transports.structured import StructuredFallback

if TYPE_CHECKING:
    import openai as _openai_sdk

__all__ = ["OpenAIChatTransport", "OpenAISettings"]

log = logging.getLogger("llmrec.recommenders.openai")

_FATAL_STATUSES = frozenset({401, 403, 404})
"""HTTP statuses that stop the run even without ``fail_fast``: every request would get them."""


@dataclass(frozen=True)
class OpenAISettings:
    """What an OpenAI transport needs from the backend's config."""

    model: str
    base_url: str
    api_key: SecretStr | None = None
    keyless_ok: bool = False
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None
    max_concurrency: int = 8
    timeout: float = 60.0
    max_retries: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    fail_fast: bool = False

    def __repr__(self) -> str:  # never show the key (nor a password inside base_url)
        return f"OpenAISettings(model={self.model!r}, base_url={mask_url(self.base_url)!r})"

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, self.backoff_base, self.backoff_max)


class OpenAIChatTransport(Transport):
    """Chat completions over the official SDK (see module docstring)."""

    capabilities: ClassVar[frozenset[str]] = frozenset(
        {STRUCTURED_OUTPUT, NEXT_TOKEN_LOGPROBS, CONTINUATION_LOGPROBS}
    )

    def __init__(
        self,
        settings: OpenAISettings,
        *,
        price: Callable[[int, int, bool], float | None] | None = None,
    ) -> None:
        self.settings = settings
        self._price = price
        self._lock = threading.Lock()
        self._client: _openai_sdk.OpenAI | None = None
        self._fallback = StructuredFallback()

    @property
    def endpoint(self) -> str:
        """The chat URL, with any password of ``user:key@host`` masked (it is a cache key)."""
        return mask_url(self.settings.base_url) + CHAT_PATH

    @property
    def model(self) -> str:
        return self.settings.model

    def cost(self, prompt_tokens: int, completion_tokens: int, *, batch: bool) -> float | None:
        if self._price is None:
            return None
        return self._price(prompt_tokens, completion_tokens, batch)

    def client(self) -> _openai_sdk.OpenAI:
        """The SDK client, built on first use; the API key is resolved here and only here."""
        with self._lock:
            if self._client is None:
                s = self.settings
                self._client = make_client(
                    api_key=s.api_key,
                    base_url=s.base_url,
                    keyless_ok=s.keyless_ok,
                    timeout=s.timeout,
                    max_connections=s.max_concurrency,
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            made, self._client = self._client, None
        if made is not None:
            made.close()

    def build_body(
        self, messages: Sequence[Mapping[str, str]], *, response_format: dict[str, Any] | None
    ) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "messages": [dict(m) for m in messages],
            "temperature": s.temperature,
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if s.max_tokens is not None:
            body["max_tokens"] = s.max_tokens
        if response_format is not None:
            body["response_format"] = response_format
        return body

    # -- likelihood (see llmrec.recommenders.llm.transports.logprobs) -------------------------
    def build_score_body(
        self, messages: Sequence[Mapping[str, str]], task: ScoreTask
    ) -> dict[str, Any]:
        from llmrec.recommenders.llm.transports.logprobs import score_body

        return score_body(self.settings.model, messages, task, seed=self.settings.seed)

    def read_scores(self, task: ScoreTask, response: Mapping[str, Any]) -> list[tuple[float, int]]:
        from llmrec.recommenders.llm.transports.logprobs import read_scores

        return read_scores(task, response, self.endpoint)

    def send(
        self, requests: Sequence[ChatRequest], *, on_answer: AnswerCallback | None = None
    ) -> list[ChatAnswer]:
        if not requests:
            return []
        self.client()  # resolve the API key once, before any thread starts

        def one(request: ChatRequest) -> ChatAnswer:
            answer = self._send_one(request)
            if on_answer is not None:
                on_answer(request, answer)
            return answer

        return map_bounded(one, requests, max_workers=self.settings.max_concurrency)

    @staticmethod
    def _failed(reason: str, started: float, attempts: int) -> ChatAnswer:
        """A request that failed for good: an answer with ``error`` set (never cached)."""
        latency = time.perf_counter() - started
        return ChatAnswer({}, 0, 0, None, latency, attempts, False, False, reason)

    def _send_one(self, request: ChatRequest) -> ChatAnswer:
        """Send one request with retries, one structured-output step lower after a rejection
        of its ``response_format`` (see :mod:`.structured`)."""
        import openai

        started = time.perf_counter()
        attempts = 0
        while True:
            body, mode = self._fallback.body_for(request.body)
            try:
                response, n = self._post(request, body, mode)
            except openai.APIStatusError as exc:
                if self._fallback.is_rejection(exc.status_code, str(exc.message), mode):
                    attempts += 1
                    now = self._fallback.reject(str(mode))
                    log.warning(
                        "%s rejected response_format %s (HTTP %s); asking with %s from now on",
                        self.endpoint,
                        mode,
                        exc.status_code,
                        now,
                    )
                    continue
                attempts += getattr(exc, "llmrec_attempts", 1)
                return self._failure(request, exc, started, attempts)
            except Exception as exc:
                attempts += getattr(exc, "llmrec_attempts", 1)
                return self._failure(request, exc, started, attempts)
            attempts += n
            break
        latency = time.perf_counter() - started
        pt, ct = usage(response)
        return ChatAnswer(
            response,
            pt,
            ct,
            self.cost(pt, ct, batch=False),
            latency,
            attempts,
            False,
            False,
            structured_mode=mode,
        )

    def _post(
        self, request: ChatRequest, body: dict[str, Any], mode: str | None
    ) -> tuple[dict[str, Any], int]:
        """POST ``body`` with retries; returns the response and the attempts made. An error
        leaves with the attempts made in its ``llmrec_attempts`` attribute."""
        client = self.client()
        label = request.label
        attempts = 0

        def call() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            # ``post`` (the SDK's documented call for raw requests) sends the body exactly as
            # built and hashed for the cache, and skips the typed parameter transformation,
            # which costs about as much CPU as the HTTP exchange itself.
            data: object = client.post(CHAT_PATH, body=body, cast_to=object)
            problem = response_problem(data)
            if problem is not None or not isinstance(data, dict):
                raise BackendError(
                    f"{self.endpoint} answered {label} {problem} (not cached): "
                    f"{redact(str(data))[:300]}"
                )
            return data

        def retryable(exc: BaseException) -> Transient | None:
            status = getattr(exc, "status_code", None)
            message = str(getattr(exc, "message", ""))
            if isinstance(status, int) and self._fallback.is_rejection(status, message, mode):
                return None  # a rejected response_format: degrade now, do not retry
            return classify(exc)

        try:
            response, _ = call_with_retries(
                call,
                classify=retryable,
                policy=self.settings.policy,
                rng=random.Random(int(request.key[:16], 16)),
                label=label,
                logger=log,
            )
        except Exception as exc:
            exc.llmrec_attempts = attempts  # type: ignore[attr-defined]
            raise
        return response, attempts

    def _failure(
        self, request: ChatRequest, exc: Exception, started: float, attempts: int
    ) -> ChatAnswer:
        """A request that failed for good: a failed answer, or an error with ``fail_fast``
        (and always for a rejected key, a forbidden or unknown model: every request would
        fail alike)."""
        import openai

        s, label = self.settings, request.label
        if isinstance(exc, openai.APIStatusError):
            hint = f"; {KEY_HELP}" if exc.status_code == 401 else ""
            error = BackendError(
                f"{self.endpoint} answered HTTP {exc.status_code} to {label}: "
                f"{redact(exc.message)}{hint}"
            )
            if s.fail_fast or exc.status_code in _FATAL_STATUSES:
                raise error from None
        elif isinstance(exc, openai.APIError):
            error = BackendError(
                f"{self.endpoint} failed for {label} after {attempts} attempts "
                f"(timeout {s.timeout} s): {redact(exc.message)}"
            )
            if s.fail_fast:
                raise error from None
        elif isinstance(exc, BackendError):
            if s.fail_fast:
                raise exc
            error = exc
        else:
            raise exc
        return self._failed(redact(str(error)), started, attempts)
