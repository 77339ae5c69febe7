"""The one rule for finding an OpenAI API key, and masking keys in server text.

Rule (used by the recommenders, the fine-tuning commands and the experiment runner alike):
an explicit ``api_key`` wins, else the environment variable ``OPENAI_API_KEY``; an empty key
counts as none. Without a key, :func:`resolve_api_key` raises
:class:`~llmrec.errors.APIKeyMissingError` saying how to set one, unless the caller says the
server takes requests without a key (``keyless_ok=True``: a local OpenAI-compatible server);
the SDK still needs a non-empty string then, and gets :data:`NO_KEY`.
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from llmrec.errors import APIKeyMissingError
from llmrec.openai_api.redact import redact as _redact
from llmrec.openai_api.redact import register_secret

__all__ = ["KEY_ENV", "KEY_HELP", "NO_KEY", "has_api_key", "redact", "resolve_api_key"]

KEY_ENV = "OPENAI_API_KEY"
"""The environment variable read when no key is passed."""
NO_KEY = "no-key"
"""What the SDK is given for a server that takes requests without a key (it needs a string)."""
KEY_HELP = (
    "set the environment variable OPENAI_API_KEY (for example `export OPENAI_API_KEY=sk-...`) "
    "or pass api_key=...; for a local OpenAI-compatible server (vLLM, Ollama, llama.cpp) any "
    "non-empty key works"
)
"""How to supply a key; appended to every error caused by a missing or rejected key."""


def _explicit(api_key: str | SecretStr | None) -> str | None:
    if isinstance(api_key, SecretStr):
        api_key = api_key.get_secret_value()
    return api_key.strip() if api_key and api_key.strip() else None


def has_api_key(api_key: str | SecretStr | None = None) -> bool:
    """Whether the rule finds a key (``api_key``, else ``$OPENAI_API_KEY``)."""
    return _explicit(api_key) is not None or bool(os.environ.get(KEY_ENV, "").strip())


def resolve_api_key(
    api_key: str | SecretStr | None = None, *, endpoint: str, keyless_ok: bool = False
) -> str:
    """``api_key``, else ``$OPENAI_API_KEY``, else :data:`NO_KEY` if ``keyless_ok``.

    Raises :class:`~llmrec.errors.APIKeyMissingError` naming ``endpoint`` and how to set a key.
    """
    key = _explicit(api_key) or os.environ.get(KEY_ENV, "").strip() or None
    if key is not None:
        register_secret(key)
        return key
    if keyless_ok:
        return NO_KEY
    raise APIKeyMissingError(f"no API key for {endpoint}: {KEY_HELP}")


def redact(text: str) -> str:
    """Mask every key this process knows (and anything shaped like an API key) in ``text``.

    Servers may echo a rejected key; see :mod:`llmrec.openai_api.redact`.
    """
    register_secret(os.environ.get(KEY_ENV))
    return _redact(text)
