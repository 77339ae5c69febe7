"""Structured output that degrades in steps on servers that reject a ``response_format``.

Some OpenAI-compatible servers do not accept ``response_format={"type": "json_schema", ...}``
(llama.cpp's answers HTTP 500 ``response_format type must be one of "text" or "json_object"``;
others answer 400 or 422). The request is then sent again one step down:

    json_schema  ->  json_object  ->  instructions (no response_format: the prompt template's
                                      own JSON instructions, which every JSON template writes)

The first rejection decides for the rest of the transport's life (every later request starts
at the lower step), under a lock, so concurrent requests agree; requests already in flight
when it happens are rejected once each and sent again. Each answer records the step used
(``ChatAnswer.structured_mode``, ``diagnostics["structured_output"]``).

A rejection is an HTTP 400, 415, 422, 500 or 501 whose message names ``response_format``,
``json_schema``, ``json_object`` or a schema: an ordinary server error is retried as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["MODES", "StructuredFallback"]

MODES = ("json_schema", "json_object", "instructions")
"""The steps, best first."""
_REJECTING_STATUSES = frozenset({400, 415, 422, 500, 501})
_WORDS = ("response_format", "json_schema", "json_object", "schema", "grammar")


def _planned_step(body: Mapping[str, Any]) -> int | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, Mapping):
        return None
    kind = fmt.get("type")
    return MODES.index(kind) if kind in ("json_schema", "json_object") else None


class StructuredFallback:
    """The step structured output is asked at, shared by every thread of one transport."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._floor = 0

    @property
    def mode(self) -> str:
        """The step every new request starts at."""
        with self._lock:
            return MODES[self._floor]

    def body_for(self, body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The body to send for a planned ``body`` and its step (``None``: no structured
        output was asked for)."""
        planned = _planned_step(body)
        if planned is None:
            return body, None
        with self._lock:
            step = max(planned, self._floor)
        if step == planned:
            return body, MODES[step]
        sent = dict(body)
        if MODES[step] == "json_object":
            sent["response_format"] = {"type": "json_object"}
        else:
            del sent["response_format"]
        return sent, MODES[step]

    @staticmethod
    def is_rejection(status: int, message: str, mode: str | None) -> bool:
        """Whether an HTTP error answered to a request sent at ``mode`` rejects that step."""
        if mode is None or mode == MODES[-1] or status not in _REJECTING_STATUSES:
            return False
        text = message.lower()
        return any(word in text for word in _WORDS)

    def reject(self, mode: str) -> str:
        """Record that the server rejected ``mode``; returns the step to use now."""
        with self._lock:
            self._floor = max(self._floor, MODES.index(mode) + 1)
            return MODES[self._floor]
