"""The transport contract: send a planned batch of chat requests, return one answer each.

A transport has one job. The pipeline (:mod:`llmrec.recommenders.llm.pipeline`) builds the
messages from the prompt template, asks the transport for the wire body of each request
(:meth:`Transport.build_body`, which is also what the response cache hashes), looks the answers
up in the cache, and hands only the missing requests to :meth:`Transport.send`. Parsing, title
resolution, diagnostics and caching stay in the pipeline, so a new transport (a local
``transformers`` model, another HTTP API) is one class and touches nothing else.

* :class:`ChatRequest` carries the chat ``messages``, the wire ``body``, its cache ``key``, the
  profile's movie ids and ``k`` (a transport that constrains decoding to catalog titles gets the
  catalog when it is built and the profile to exclude here).
* :class:`ChatAnswer` is one answer: a chat-completions-shaped ``response`` (``choices[0].
  message.content``, ``finish_reason``, ``usage``; a local transport writes the same shape),
  token counts, cost (``None``: unknown), latency, attempts, and ``error`` for a request that
  failed (then ``response`` is empty).
* :attr:`Transport.capabilities` declares optional features (:data:`STRUCTURED_OUTPUT`,
  :data:`CATALOG_CONSTRAINED`, :data:`DEFERRED`, and the two likelihood readings
  :data:`NEXT_TOKEN_LOGPROBS` and :data:`CONTINUATION_LOGPROBS`) so a caller can check before
  relying on them.
* **Likelihood requests** are chat requests too (same cache, retries, budget): the pipeline asks
  :meth:`Transport.build_score_body` for the body of a :class:`ScoreTask` and reads the answer's
  log-probabilities back with :meth:`Transport.read_scores`; ``send`` carries them like any other
  request. A transport without the capability raises
  :class:`~llmrec.errors.CapabilityError` there.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from llmrec.errors import CapabilityError

__all__ = [
    "CATALOG_CONSTRAINED",
    "CONTINUATION_LOGPROBS",
    "DEFERRED",
    "NEXT_TOKEN_LOGPROBS",
    "STRUCTURED_OUTPUT",
    "AnswerCallback",
    "ChatAnswer",
    "ChatRequest",
    "ScoreTask",
    "Transport",
    "message_text",
    "response_problem",
    "usage",
]

STRUCTURED_OUTPUT = "structured_output"
"""The transport honours a JSON schema (``response_format``) in :meth:`Transport.build_body`."""
CATALOG_CONSTRAINED = "catalog_constrained"
"""The transport can restrict generation to catalog titles (uses ``ChatRequest.profile``)."""
DEFERRED = "deferred"
"""Answers arrive much later (a batch job); :meth:`Transport.send` may wait for hours."""
NEXT_TOKEN_LOGPROBS = "next_token_logprobs"
"""The transport reads the log-probability of given answers' first token (e.g. "Yes", "No")."""
CONTINUATION_LOGPROBS = "continuation_logprobs"
"""The transport reads ``log P(answer text | prompt)`` of a whole given answer."""


@dataclass(frozen=True)
class ScoreTask:
    """What a likelihood request reads: ``"next_token"`` (the first answer token's
    log-probability of each of ``options``) or ``"continuation"`` (the summed log-probability of
    ``options[0]`` as the whole answer, and its token count)."""

    kind: Literal["next_token", "continuation"]
    options: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "options": list(self.options)}


@dataclass(frozen=True)
class ChatRequest:
    """One planned request, as the pipeline hands it to a transport."""

    key: str
    """Cache key: SHA-256 of the endpoint, model and ``body`` (see ``cache.request_key``)."""
    body: dict[str, Any]
    """Exactly what is sent (built by :meth:`Transport.build_body`)."""
    messages: tuple[Mapping[str, str], ...]
    """The chat messages the prompt template wrote (also inside ``body``)."""
    profile: tuple[int, ...]
    """The profile's movie ids known to the catalog, in order."""
    k: int
    """How many movies the answer should list."""
    index: int
    """Position of the first profile asking this request (for messages)."""

    @property
    def label(self) -> str:
        return f"profile #{self.index} (request {self.key[:12]})"


def response_problem(response: object) -> str | None:
    """Why a chat-completions-shaped response cannot be used, or ``None`` when it can.

    The one check for every answer, live or read back from the response cache, so a stored
    answer is never served when the same answer live would be rejected.
    """
    if not isinstance(response, Mapping) or not isinstance(response.get("choices"), list):
        return "without a 'choices' list"
    return None


def usage(response: Mapping[str, Any]) -> tuple[int, int]:
    """Prompt and completion tokens of a response (0 where the server reports none)."""
    counts = response.get("usage") or {}
    return int(counts.get("prompt_tokens") or 0), int(counts.get("completion_tokens") or 0)


def message_text(response: Mapping[str, Any]) -> tuple[str, str | None]:
    """The first choice's text (a refusal counts as text) and its ``finish_reason``."""
    choices = response.get("choices") or []
    if not choices:
        return "", None
    choice = choices[0] or {}
    message = choice.get("message") or {}
    text = message.get("content") or message.get("refusal") or ""
    return str(text), choice.get("finish_reason")


@dataclass(frozen=True)
class ChatAnswer:
    """One answer as received (or read back from the response cache)."""

    response: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    latency_s: float | None
    attempts: int
    batch: bool = False
    cached: bool = False
    error: str | None = None
    structured_mode: str | None = None
    """How structured output was asked for (``json_schema``, ``json_object`` or
    ``instructions``: the template's own JSON instructions only); ``None``: not asked."""

    @property
    def text(self) -> str:
        return message_text(self.response)[0]

    @property
    def finish_reason(self) -> str | None:
        return message_text(self.response)[1]


AnswerCallback = Callable[[ChatRequest, ChatAnswer], None]
"""Called once per answer as soon as it arrives, possibly from a worker thread."""


class Transport(abc.ABC):
    """Sends chat requests somewhere and returns answers; one instance per recommender.

    Implementations must be safe to call from several threads at once (``send`` may be called
    concurrently by threads sharing one recommender) and must not keep per-call state on the
    instance. Resources (HTTP clients, loaded models) are opened lazily and released by
    :meth:`close`; a closed transport reopens them on next use.
    """

    capabilities: ClassVar[frozenset[str]] = frozenset()

    @property
    @abc.abstractmethod
    def endpoint(self) -> str:
        """Where requests go (a URL, or e.g. ``local:/path/to/model``); part of every cache key."""

    @property
    @abc.abstractmethod
    def model(self) -> str:
        """The model id answering; part of every cache key."""

    @abc.abstractmethod
    def build_body(
        self, messages: Sequence[Mapping[str, str]], *, response_format: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The JSON body sent for ``messages`` (sampling options included); it is hashed into
        the cache key, so it must hold everything that changes the answer."""

    def answer_depends_on(self, profile: Sequence[int]) -> dict[str, Any] | None:
        """What else, beyond ``build_body``'s messages, decides the answer to a request for
        ``profile`` (default: nothing).

        A transport that constrains decoding to a catalog returns the catalog's fingerprint
        and the excluded movies here; the pipeline adds it to the body under
        ``"answer_depends_on"``, so the cache key changes with them and an answer constrained
        to another catalog (or other exclusions) is never served from the cache.
        """
        return None

    @abc.abstractmethod
    def send(
        self,
        requests: Sequence[ChatRequest],
        *,
        on_answer: AnswerCallback | None = None,
    ) -> list[ChatAnswer]:
        """Send ``requests``; return their answers in the same order.

        ``on_answer`` is called once per answer as soon as it arrives (the pipeline stores it
        in the response cache there, so an interrupted call loses nothing paid for). A request
        that fails for good is either an answer with ``error`` set or an exception
        (:class:`~llmrec.errors.BackendError`) that stops the call.
        """

    def build_score_body(
        self, messages: Sequence[Mapping[str, str]], task: ScoreTask
    ) -> dict[str, Any]:
        """The body of a likelihood request (hashed into the cache key like any body).

        The default raises :class:`~llmrec.errors.CapabilityError`: a transport that reads
        log-probabilities declares :data:`NEXT_TOKEN_LOGPROBS` or :data:`CONTINUATION_LOGPROBS`
        and overrides this and :meth:`read_scores`."""
        raise CapabilityError(
            f"{type(self).__name__} ({self.endpoint}) cannot read log-probabilities "
            f"({task.kind}); use a backend whose transport declares it"
        )

    def read_scores(self, task: ScoreTask, response: Mapping[str, Any]) -> list[tuple[float, int]]:
        """Per option of the request's :class:`ScoreTask`: ``(log-probability, tokens)``."""
        raise CapabilityError(f"{type(self).__name__} cannot read log-probabilities")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or models (they reopen on next use)."""
