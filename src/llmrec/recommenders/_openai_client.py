"""The OpenAI SDK as the ``openai`` backend uses it: one client, and which errors to retry.

The SDK is imported inside the functions, never at module import time, so listing or building
recommenders does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmrec.recommenders._concurrency import Transient, retry_after_seconds
from llmrec.recommenders._openai_config import resolve_api_key

if TYPE_CHECKING:
    import openai as _openai_sdk

    from llmrec.recommenders._openai_config import OpenAIConfig

__all__ = ["build_client", "classify"]


def build_client(config: OpenAIConfig, endpoint: str) -> _openai_sdk.OpenAI:
    """An SDK client for ``config``'s server, with the API key resolved now.

    The SDK's own retries are off (:mod:`llmrec.recommenders._concurrency` retries instead), and
    the connection pool holds ``max_concurrency`` connections, one per request in flight.
    ``endpoint`` only names the server in the error raised when there is no key.
    """
    import openai

    key = resolve_api_key(config, endpoint)
    n = config.max_concurrency
    limits = type(openai.DEFAULT_CONNECTION_LIMITS)(max_connections=n, max_keepalive_connections=n)
    return openai.OpenAI(
        api_key=key,
        base_url=config.resolved_base_url(),
        timeout=config.timeout,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(limits=limits, timeout=config.timeout),
    )


def classify(exc: BaseException) -> Transient | None:
    """Which SDK errors are worth retrying: 408, 409, 429, 5xx, timeouts, dropped connections."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (408, 409, 429) or status >= 500:
            return Transient(f"HTTP {status}", retry_after_seconds(exc.response.headers))
        return None
    if isinstance(exc, openai.APITimeoutError):
        return Transient("timed out", None)
    if isinstance(exc, openai.APIConnectionError):
        return Transient("connection failed", None)
    return None
