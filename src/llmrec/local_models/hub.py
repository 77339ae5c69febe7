"""Fail fast, with what to do, when a Hugging Face model id cannot be fetched.

Without a network, ``from_pretrained("org/model")`` retries for most of a minute before it
fails, and its error does not mention ``HF_HUB_OFFLINE``. :func:`check_hub_model` runs first: a
model folder passes untouched; a hub id passes when ``HF_HUB_OFFLINE`` is set and the model is in
the local Hugging Face cache, or when the hub endpoint (``HF_ENDPOINT``, or the proxy in front
of it) accepts a TCP connection within a few seconds. Otherwise it raises a
:class:`~llmrec.errors.ConfigError` that names the model, the endpoint, whether the model is
cached, and the ways out: ``HF_HUB_OFFLINE=1`` with a cached model, a model folder, or the tiny
offline model from ``llmrec models tiny``.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
import urllib.request
from pathlib import Path

from llmrec.errors import ConfigError

__all__ = ["PROBE_TIMEOUT_S", "check_hub_model", "hub_offline"]

PROBE_TIMEOUT_S = 3.0
"""Seconds to wait for the hub endpoint to accept a connection."""

_TRUE = {"1", "on", "yes", "true"}
_TINY = "llmrec models tiny OUT --catalog movie_titles.csv"


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set (read now, as ``huggingface_hub`` reads it)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - installed with transformers
        return False
    return bool(constants.HF_HUB_OFFLINE)


def check_hub_model(model: str | Path) -> None:
    """Return when ``model`` is a folder or a hub id that can be loaded now; else raise a
    :class:`ConfigError` saying why and what to do (see the module docstring)."""
    text = str(model)
    path = Path(text).expanduser()
    if path.is_dir():
        return
    if path.exists() or text.startswith(("/", ".", "~")) or text.count("/") > 1:
        raise ConfigError(
            f"no model folder at {text}: pass a folder holding config.json and the weights, "
            "or a Hugging Face model id such as 'Qwen/Qwen2.5-0.5B-Instruct'"
        )
    from huggingface_hub import constants, try_to_load_from_cache

    cached = isinstance(try_to_load_from_cache(text, "config.json"), str)
    if hub_offline():
        if cached:
            return
        raise ConfigError(
            f"model {text!r} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
            "HF_HUB_OFFLINE is set, so nothing is downloaded: download it where there is a "
            f"network (`hf download {text}`), pass a model folder, or build a tiny offline "
            f"model to try local fine-tuning: `{_TINY}`"
        )
    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    target = _probe_target(endpoint)
    if target is None or _reachable(*target):
        return
    where = f"{endpoint}" + (f" (through the proxy {target[0]}:{target[1]})" if target[2] else "")
    fix = (
        "it is in the Hugging Face cache: set HF_HUB_OFFLINE=1 to load that copy"
        if cached
        else "set HF_HUB_OFFLINE=1 and use a model from the Hugging Face cache or a model "
        f"folder, or build a tiny offline model to try local fine-tuning: `{_TINY}`"
    )
    raise ConfigError(
        f"cannot reach {where} to fetch model {text!r} (no connection within "
        f"{PROBE_TIMEOUT_S:g} s); {fix}"
    )


def _probe_target(endpoint: str) -> tuple[str, int, bool] | None:
    """(host, port, through a proxy) to try for ``endpoint``; ``None`` if it has no host."""
    url = urllib.parse.urlsplit(endpoint)
    if not url.hostname:
        return None
    scheme = url.scheme or "https"
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(url.hostname):
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if parsed.hostname:
            return parsed.hostname, parsed.port or 8080, True
    return url.hostname, url.port or (443 if scheme == "https" else 80), False


def _reachable(host: str, port: int, _proxy: bool = False) -> bool:
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False
