"""What the parts of the local server exchange, so they need not name each other.

The HTTP layer (``_http``) turns bytes into a :class:`Call` and hands it to an
:class:`Exchange`; a route (``_routes``) reads and changes a :class:`ServerState` and answers
a :class:`Reply`. ``_core.ServerCore`` is both; ``LocalOpenAIServer`` (``_app``) wires it to the
HTTP server and adds the scripting API. Nothing here imports those modules.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from llmrec.testing.openai_server._batches import BatchStore
    from llmrec.testing.openai_server._chat import ChatFunction
    from llmrec.testing.openai_server._jobs import JobStore
    from llmrec.testing.openai_server._logprobs import LogprobFunction, PromptLogprobFunction
    from llmrec.testing.openai_server._state import FileStore, IdMaker, TokenCounter

__all__ = ["Call", "Exchange", "Reply", "Route", "ServerState"]


@dataclass
class Reply:
    """What a route answers: a status and JSON (a dict) or raw bytes.

    ``not_before`` is the ``time.monotonic()`` instant before which the reply is not sent (a
    simulated model latency counted from the request's arrival); ``None`` sends it at once.
    """

    status: int
    payload: dict[str, Any] | bytes
    headers: dict[str, str] | None = None
    not_before: float | None = None


@dataclass
class Call:
    """One parsed request as the route functions see it (``received``: ``time.monotonic()``
    when its request line had been read)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    json: Any
    received: float = 0.0


class Exchange(Protocol):
    """What the HTTP layer asks of the server behind it, once per request."""

    def record(self, call: Call) -> int:
        """Log the request on arrival; returns its sequence number."""
        ...

    def respond(self, call: Call) -> Reply | None:
        """The reply (faults and auth applied), or ``None`` to hang up without one."""
        ...

    def set_status(self, seq: int, status: int) -> None:
        """Note the status answered to request ``seq``."""
        ...

    def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the server is stopping."""
        ...


class ServerState(Protocol):
    """What a route reads and changes: the stores (under ``lock``) and the chat settings."""

    lock: threading.Lock
    latency: float
    reject_response_formats: frozenset[str]
    chat: ChatFunction
    logprobs: LogprobFunction | None
    prompt_logprob: PromptLogprobFunction | None
    ids: IdMaker
    token_counter: TokenCounter
    files: FileStore
    jobs: JobStore
    batches: BatchStore


Route = Callable[[ServerState, Call, "re.Match[str]"], Reply]
