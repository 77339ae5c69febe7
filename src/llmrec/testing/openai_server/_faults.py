"""Failure injection for :class:`~llmrec.testing.LocalOpenAIServer`.

A :class:`FaultPlan` holds rules; for each incoming request the first rule that matches decides
whether the request fails (an HTTP error with OpenAI-style JSON), is dropped (the connection is
closed without an answer) or is slowed down. Rules are checked before the request is handled, so a
failed request changes no server state.

Random failures are a pure function of ``(seed, request body, attempt number)`` rather than draws
from a shared generator, so the same requests fail whatever order concurrent threads arrive in.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Fault", "FaultPlan"]

FaultKind = Literal["fail", "drop", "slow"]


@dataclass(frozen=True)
class Fault:
    """What to do with one request: fail it, drop it, or delay it by ``seconds``."""

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    body: dict[str, Any] | None = None
    seconds: float = 0.0


@dataclass
class _CountedRule:
    fault: Fault
    remaining: int
    path_prefix: str


@dataclass
class _RandomRule:
    rate: float
    statuses: tuple[int, ...]
    seed: int
    once_per_request_body: bool
    retry_after: float | None
    path_prefix: str
    attempts: dict[str, int] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)


def _unit(*parts: object) -> float:
    """A number in [0, 1) that depends only on ``parts`` (SHA-256 of their text)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class FaultPlan:
    """Thread-safe list of failure rules, consulted once per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counted: list[_CountedRule] = []
        self._random: list[_RandomRule] = []

    def add_counted(self, fault: Fault, n: int, path_prefix: str) -> None:
        """The next ``n`` requests whose path starts with ``path_prefix`` get ``fault``."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        with self._lock:
            self._counted.append(_CountedRule(fault, n, path_prefix))

    def add_random(
        self,
        rate: float,
        *,
        statuses: tuple[int, ...],
        seed: int,
        once_per_request_body: bool,
        retry_after: float | None,
        path_prefix: str,
    ) -> None:
        """Fail a ``rate`` fraction of matching requests, chosen by a hash of ``seed`` and body."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        if not statuses:
            raise ValueError("statuses must name at least one HTTP status")
        with self._lock:
            self._random.append(
                _RandomRule(
                    rate, tuple(statuses), seed, once_per_request_body, retry_after, path_prefix
                )
            )

    def reset(self) -> None:
        with self._lock:
            self._counted.clear()
            self._random.clear()

    def decide(self, path: str, body: bytes) -> Fault | None:
        """The fault for a request to ``path`` with raw ``body``, or ``None`` to handle it."""
        with self._lock:
            for rule in self._counted:
                if rule.remaining > 0 and path.startswith(rule.path_prefix):
                    rule.remaining -= 1
                    return rule.fault
            self._counted = [r for r in self._counted if r.remaining > 0]
            for rand in self._random:
                if path.startswith(rand.path_prefix):
                    fault = self._decide_random(rand, path, body)
                    if fault is not None:
                        return fault
        return None

    @staticmethod
    def _decide_random(rule: _RandomRule, path: str, body: bytes) -> Fault | None:
        key = hashlib.sha256(path.encode() + b"\0" + body).hexdigest()
        attempt = rule.attempts.get(key, 0)
        rule.attempts[key] = attempt + 1
        if rule.once_per_request_body and key in rule.failed:
            return None
        if _unit(rule.seed, key, attempt, "fail") >= rule.rate:
            return None
        rule.failed.add(key)
        pick = int(_unit(rule.seed, key, attempt, "status") * len(rule.statuses))
        return Fault("fail", status=rule.statuses[pick], retry_after=rule.retry_after)
