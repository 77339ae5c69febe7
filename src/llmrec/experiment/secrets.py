"""Secret options in a backend's ``config`` table: kept in memory, never written or pickled.

An option named ``api_key`` (or ending in ``_api_key``, ``_token`` or ``password``) holds a
secret: it is wrapped in :class:`~llmrec.openai_api.redact.ApiKey` when the config is read (so a
pickle carries no key and the value is masked in every error), left out of every dump
(``config.json``, ``results.json``, stage keys), and handed to the backend unwrapped. A URL with
a password (``https://user:key@host/v1``) is dumped with the password masked.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from llmrec.openai_api.redact import ApiKey, mask_url, secret_url

__all__ = ["hide_secrets", "is_secret_option", "keep_secrets", "reveal_secrets"]


def is_secret_option(name: str) -> bool:
    """Whether a backend option of this name holds a secret."""
    lowered = name.lower()
    return lowered == "api_key" or lowered.endswith(("_api_key", "_token", "password"))


def keep_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the string values of secret options wrapped in :class:`ApiKey`."""
    out: dict[str, Any] = {}
    for name, value in options.items():
        if is_secret_option(name) and isinstance(value, str):
            value = ApiKey(value)
        elif is_secret_option(name) and isinstance(value, SecretStr):
            value = ApiKey(value.get_secret_value())
        elif isinstance(value, str) and "@" in value:
            value = secret_url(value)
        out[name] = value
    return out


def hide_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` as written to files: URL passwords masked (secret options are dropped by
    the caller)."""
    return {
        name: mask_url(value) if isinstance(value, str) and "@" in value else value
        for name, value in options.items()
    }


def reveal_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` as handed to a backend: secrets unwrapped to plain strings."""
    return {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in options.items()
    }
