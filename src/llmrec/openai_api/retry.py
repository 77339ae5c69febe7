"""Retries with backoff for HTTP calls to an OpenAI-compatible API.

Why not the SDK's own retries: the backend needs to honour ``Retry-After`` exactly, log every
attempt, count attempts per request, and keep the backoff deterministic (jitter drawn from a
generator seeded by the request), so the client is built with ``max_retries=0`` and every retry
happens here.

Backoff without a server hint is "equal jitter" (Brooker, *Exponential Backoff And Jitter*,
AWS Architecture Blog, 2015): ``d = min(max_delay, base_delay * 2**attempt)``, sleep a uniform
draw from ``[d/2, d]``. With a ``retry-after-ms`` or ``retry-after`` header the server's delay is
used as given (capped at ``max_retry_after``).
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["RetryPolicy", "Transient", "call_with_retries", "retry_after_seconds"]

T = TypeVar("T")

log = logging.getLogger("llmrec.openai_api")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a transient failure."""

    max_retries: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to sleep before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        cap = min(self.max_delay, self.base_delay * 2.0**attempt)
        return rng.uniform(cap / 2.0, cap)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The server's requested delay from ``retry-after-ms`` or ``retry-after``, if any.

    ``retry-after`` may be a number of seconds or an HTTP date (RFC 9110, section 10.2.3);
    unparseable values are ignored.
    """
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())


@dataclass(frozen=True)
class Transient:
    """What :func:`call_with_retries` needs to know about a failure that may be retried."""

    reason: str
    retry_after: float | None


def call_with_retries(
    fn: Callable[[], T],
    *,
    classify: Callable[[BaseException], Transient | None],
    policy: RetryPolicy,
    rng: random.Random,
    label: str,
    sleep: Callable[[float], None] = time.sleep,
    logger: logging.Logger | None = None,
) -> tuple[T, int]:
    """Call ``fn`` until it succeeds; return ``(result, attempts)``.

    ``classify`` maps an exception to :class:`Transient` (retry) or ``None`` (raise at once).
    After ``policy.max_retries`` retries the last exception propagates.
    """
    attempt = 0
    while True:
        try:
            return fn(), attempt + 1
        except Exception as exc:
            transient = classify(exc)
            if transient is None or attempt >= policy.max_retries:
                raise
            pause = policy.delay(attempt, transient.retry_after, rng)
            (logger or log).info(
                "%s: attempt %d failed (%s); retrying in %.2f s",
                label,
                attempt + 1,
                transient.reason,
                pause,
            )
            if pause > 0:  # "Retry-After: 0" means now: no sleep, no hand-over of the thread
                sleep(pause)
            attempt += 1
