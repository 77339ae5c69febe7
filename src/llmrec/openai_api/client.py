"""The one factory for OpenAI SDK clients, and which SDK errors are worth retrying.

The SDK is imported inside the functions, never at module import time, so importing llmrec or
building a recommender does not pay for it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from llmrec.openai_api.keys import resolve_api_key
from llmrec.openai_api.models import OPENAI_BASE_URL
from llmrec.openai_api.retry import Transient, retry_after_seconds

if TYPE_CHECKING:
    import openai as _openai_sdk

__all__ = ["classify", "make_client", "resolved_base_url"]


def resolved_base_url(base_url: str | None = None) -> str:
    """``base_url``, else ``$OPENAI_BASE_URL``, else the OpenAI API root (no trailing /)."""
    return (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL).rstrip("/")


def make_client(
    *,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    keyless_ok: bool = False,
    timeout: float | None = None,
    max_connections: int | None = None,
    sdk_retries: int | None = 0,
) -> _openai_sdk.OpenAI:
    """An SDK client for ``base_url`` (default as :func:`resolved_base_url`), key resolved now.

    The key follows :func:`llmrec.openai_api.keys.resolve_api_key`. The SDK's own retries are
    off by default (:mod:`llmrec.openai_api.retry` retries instead; ``sdk_retries=None`` keeps
    the SDK's default); ``max_connections`` sizes the connection pool (one connection per
    request in flight).
    """
    import openai

    url = resolved_base_url(base_url)
    key = resolve_api_key(api_key, endpoint=url, keyless_ok=keyless_ok)
    options: dict[str, Any] = {"api_key": key, "base_url": url}
    if sdk_retries is not None:
        options["max_retries"] = sdk_retries
    if timeout is not None:
        options["timeout"] = timeout
    if max_connections is not None:
        n = max_connections
        limits = type(openai.DEFAULT_CONNECTION_LIMITS)(
            max_connections=n, max_keepalive_connections=n
        )
        options["http_client"] = openai.DefaultHttpxClient(limits=limits, timeout=timeout)
    return openai.OpenAI(**options)


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
