"""Which endpoints are on this machine.

A server on a loopback address (``localhost``, ``127.0.0.0/8``, ``::1``) is one the user runs
themselves (vLLM, Ollama, llama.cpp, :class:`llmrec.testing.LocalOpenAIServer`); such servers
take requests without an API key, so the OpenAI backends do not ask for one
(``get_recommender("openai-zero-shot", base_url="http://localhost:8000/v1")`` works as the
README writes it). This says nothing about cost: whether a server bills is the budget's
business, never inferred from its address.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["is_loopback_url"]


def is_loopback_url(url: str | None) -> bool:
    """Whether ``url``'s host is this machine (``localhost`` or a loopback IP address)."""
    if not url:
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
