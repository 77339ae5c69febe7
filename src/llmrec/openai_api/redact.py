"""Keeping API keys out of every file, repr, error and pickle llmrec writes.

* :func:`register_secret` records a key's value the moment llmrec sees it (an ``api_key``
  option, ``$OPENAI_API_KEY`` when resolved, the password of a ``user:key@host`` URL);
  :func:`redact` then masks every registered value wherever it appears in a text, whatever
  its shape (no ``sk-`` prefix needed), plus anything shaped like an OpenAI key and the
  password of any URL.
* :func:`mask_url` shows a URL without the password in its user-info part.
* :class:`ApiKey` is a :class:`pydantic.SecretStr` whose pickle carries a process-local
  handle instead of the value: unpickled in the same process (or a forked worker) it
  finds the key again; anywhere else it is empty, and the key is resolved late from the
  environment like any missing key.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

__all__ = [
    "MASK",
    "ApiKey",
    "SecretURL",
    "mask_url",
    "redact",
    "redact_strings",
    "register_secret",
    "scrub_exception",
    "secret_url",
    "url_password",
]

MASK = "***"
"""What a secret is replaced with."""
MIN_SECRET_LENGTH = 8
"""Shorter values are not registered (masking them would mangle ordinary words)."""

_KEY_LIKE = re.compile(r"\b(?:sk|key)-[A-Za-z0-9_\-*.]{4,}")
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*:)[^/\s@]+@")
_LOCK = threading.Lock()
_SECRETS: set[str] = set()
_HANDLES: dict[str, str] = {}  # handle -> value
_BY_VALUE: dict[str, str] = {}  # value -> handle


def register_secret(value: str | SecretStr | None) -> None:
    """Remember ``value`` as a secret to mask in every text :func:`redact` sees."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return
    value = value.strip()
    if len(value) >= MIN_SECRET_LENGTH:
        with _LOCK:
            _SECRETS.add(value)


def url_password(url: str | None) -> str | None:
    """The password of ``scheme://user:password@host/...``, if any."""
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def mask_url(url: str) -> str:
    """``url`` with the password of its user-info part replaced by :data:`MASK`."""
    password = url_password(url)
    if password is None:
        return url
    register_secret(password)
    parts = urlsplit(url)
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def redact(text: str) -> str:
    """``text`` with every registered secret, key-shaped string and URL password masked."""
    with _LOCK:
        known = sorted(_SECRETS, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _KEY_LIKE.sub("sk-" + MASK, text)


def _handle_for(value: str) -> str:
    with _LOCK:
        handle = _BY_VALUE.get(value)
        if handle is None:
            handle = secrets.token_hex(16)
            _BY_VALUE[value] = handle
            _HANDLES[handle] = value
        return handle


def _restore(handle: str) -> ApiKey | None:
    with _LOCK:
        value = _HANDLES.get(handle)
    return None if value is None else ApiKey(value)


class ApiKey(SecretStr):
    """A secret string that is registered for redaction and never pickled in clear.

    Pickling stores a random handle known only to this process; unpickling elsewhere gives
    ``None`` (the key is then resolved from the environment when a request needs it).
    """

    def __init__(self, secret_value: str) -> None:
        super().__init__(secret_value)
        register_secret(secret_value)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return _restore, (_handle_for(self.get_secret_value()),)

    def __deepcopy__(self, memo: object) -> ApiKey:
        return self

    def __copy__(self) -> ApiKey:
        return self


def redact_strings(obj: object) -> object:
    """``obj`` (JSON-like: dicts, lists, strings) with :func:`redact` applied to every string."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_strings(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_strings(v) for v in obj]
    return obj


def scrub_exception(exc: BaseException) -> BaseException:
    """Redact an exception's text in place (``args``, and ``message``/``body`` of SDK errors).

    Used where an SDK error is re-raised as is, so callers keep its type."""
    exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
    for name in ("message", "body"):
        value = getattr(exc, name, None)
        if value is not None:
            with contextlib.suppress(AttributeError):  # a read-only property
                setattr(exc, name, redact_strings(value))
    return exc


def _seal_url(url: str) -> str:
    """``url`` with its password replaced by a process-local handle."""
    password = url_password(url)
    if password is None:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    handle = "llmrec-secret-" + _handle_for(password)
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{handle}@{host}"))


def _restore_url(sealed: str) -> str:
    password = url_password(sealed)
    if password is None or not password.startswith("llmrec-secret-"):
        return sealed
    with _LOCK:
        value = _HANDLES.get(password.removeprefix("llmrec-secret-"))
    if value is None:  # another process: the password is gone, shown masked
        return sealed.replace(password, MASK)
    return SecretURL(sealed.replace(password, value))


class SecretURL(str):
    """A URL whose user-info password is registered for redaction, shown masked in its repr
    and never pickled in clear (like :class:`ApiKey`)."""

    def __new__(cls, value: str) -> SecretURL:
        register_secret(url_password(value))
        return super().__new__(cls, value)

    def __reduce_ex__(self, protocol: object) -> tuple[object, tuple[str]]:
        return _restore_url, (_seal_url(str(self)),)

    def __repr__(self) -> str:
        return repr(mask_url(str(self)))


def secret_url(value: str) -> str:
    """``value`` as a :class:`SecretURL` when it holds a password, else unchanged."""
    return SecretURL(value) if url_password(value) else value
