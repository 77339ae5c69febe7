"""Shared pieces of the local server's state: API errors, ids, token counts, uploaded files (and
the JSONL lines they hold), and the stores of objects that advance with time."""

from __future__ import annotations

import abc
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

__all__ = [
    "MIN_TRAINING_EXAMPLES",
    "NOT_JSON",
    "APIError",
    "FileStore",
    "IdMaker",
    "StoredFile",
    "TimedStore",
    "check_training_file",
    "count_message_tokens",
    "jsonl_lines",
    "paginate",
    "whitespace_tokens",
]

TokenCounter = Callable[[str], int]

FILE_PURPOSES = frozenset({"fine-tune", "batch"})


class APIError(Exception):
    """An error answered as OpenAI's ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {
            "error": {"message": message, "type": type, "param": param, "code": code}
        }


def not_found(kind: str, ident: str) -> APIError:
    return APIError(404, f"No such {kind}: '{ident}'", param="id", code="resource_not_found")


def whitespace_tokens(text: str) -> int:
    """The default token count: the number of whitespace-separated words in ``text``."""
    return len(text.split())


def _content_text(content: object) -> str:
    """The text of a message ``content``: a string, or the ``text`` of each content part."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def count_message_tokens(messages: Sequence[object], counter: TokenCounter) -> int:
    """Sum of ``counter`` over the text of each message's content."""
    return sum(counter(_content_text(m.get("content"))) for m in messages if isinstance(m, dict))


class IdMaker:
    """Deterministic ids: ``prefix`` + 24 hex digits of SHA-256 over a per-kind counter.

    Each prefix (kind of id) counts on its own, so the n-th file of a session has the same id
    however many chat completions or batches came before it.
    """

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            n = next(self._counters.setdefault(prefix, itertools.count(1)))
        return prefix + hashlib.sha256(f"{prefix}{n}".encode()).hexdigest()[:24]


@dataclass
class StoredFile:
    """One uploaded (or server-written) file and its API object."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }


def paginate(
    items: list[dict[str, Any]], *, after: str | None, limit: int, with_ids: bool = False
) -> dict[str, Any]:
    """A cursor page of ``items`` (already in listing order) after the item with id ``after``."""
    if limit < 1:
        raise APIError(400, f"limit must be at least 1, got {limit}", param="limit")
    start = 0
    if after is not None:
        ids = [it["id"] for it in items]
        if after not in ids:
            raise APIError(400, f"No object with id '{after}' to page after", param="after")
        start = ids.index(after) + 1
    page = items[start : start + limit]
    out: dict[str, Any] = {
        "object": "list",
        "data": page,
        "has_more": start + limit < len(items),
    }
    if with_ids:
        out["first_id"] = page[0]["id"] if page else None
        out["last_id"] = page[-1]["id"] if page else None
    return out


class FileStore:
    """Uploaded files, keyed by id, in upload order. Callers hold the server's state lock."""

    def __init__(self, ids: IdMaker) -> None:
        self._ids = ids
        self.files: dict[str, StoredFile] = {}

    def add(self, filename: str, purpose: str, content: bytes) -> StoredFile:
        stored = StoredFile(self._ids.new("file-"), filename, purpose, content, int(time.time()))
        self.files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile:
        try:
            return self.files[file_id]
        except KeyError:
            raise not_found("file", file_id) from None

    def delete(self, file_id: str) -> dict[str, Any]:
        self.get(file_id)
        del self.files[file_id]
        return {"id": file_id, "object": "file", "deleted": True}

    def listing(
        self, *, purpose: str | None, after: str | None, limit: int, order: str
    ) -> dict[str, Any]:
        if order not in ("asc", "desc"):
            raise APIError(400, f"order must be 'asc' or 'desc', got '{order}'", param="order")
        items = [f.to_api() for f in self.files.values() if purpose in (None, f.purpose)]
        if order == "desc":
            items.reverse()
        return paginate(items, after=after, limit=limit, with_ids=True)


NOT_JSON = object()
"""What :func:`jsonl_lines` gives for a line that is not valid JSON."""

MIN_TRAINING_EXAMPLES = 10
"""The fewest examples a fine-tuning file may hold (OpenAI's rule)."""


def jsonl_lines(content: bytes) -> Iterator[tuple[int, Any]]:
    """Every non-blank line of an uploaded JSONL file: its number (from 1) and its parsed value
    (:data:`NOT_JSON` when it is not valid JSON)."""
    for lineno, raw in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            yield lineno, json.loads(raw)
        except json.JSONDecodeError:
            yield lineno, NOT_JSON


LineMessages = Callable[[int, Any], "list[dict[str, Any]] | str"]
"""What one line of a fine-tuning file trains on (the messages whose tokens count), or the
error message that fails the job, given the line's number and parsed value."""


def check_training_file(
    content: bytes, counter: TokenCounter, messages_of: LineMessages
) -> tuple[int, int, str | None]:
    """``(examples, tokens, error)`` for a fine-tuning file whose lines ``messages_of`` reads;
    ``error`` is None when valid. The first bad line fails the file, as OpenAI fails the job."""
    n, tokens = 0, 0
    for lineno, obj in jsonl_lines(content):
        if obj is NOT_JSON:
            return n, tokens, f"Invalid file format. Line {lineno} is not valid JSON."
        messages = messages_of(lineno, obj)
        if isinstance(messages, str):
            return n, tokens, messages
        n += 1
        tokens += count_message_tokens(messages, counter)
    if n < MIN_TRAINING_EXAMPLES:
        least = MIN_TRAINING_EXAMPLES
        return n, tokens, f"Training file has {n} example(s), but it must have at least {least}."
    return n, tokens, None


class _Stored(Protocol):
    api: dict[str, Any]


StoredT = TypeVar("StoredT", bound=_Stored)


class TimedStore(abc.ABC, Generic[StoredT]):
    """Objects by id, in creation order, that move through their states as time passes
    (batches, fine-tuning jobs): each is advanced to now before it is read. Callers hold the
    server's state lock."""

    kind: ClassVar[str]
    """What the objects are called in a 404."""
    listing_ids: ClassVar[bool] = False
    """Whether a listing page names its first and last ids."""

    def __init__(self) -> None:
        self.items: dict[str, StoredT] = {}

    @abc.abstractmethod
    def _advance(self, item: StoredT) -> None:
        """Move ``item`` on to the state it has reached by now."""

    def advance_all(self) -> None:
        for item in self.items.values():
            self._advance(item)

    def find(self, ident: str) -> StoredT:
        """The object ``ident``, advanced to now (a 404 when there is none)."""
        item = self.items.get(ident)
        if item is None:
            raise not_found(self.kind, ident)
        self._advance(item)
        return item

    def get(self, ident: str) -> dict[str, Any]:
        return dict(self.find(ident).api)

    def listing(self, *, after: str | None, limit: int) -> dict[str, Any]:
        self.advance_all()
        items = [dict(item.api) for item in reversed(self.items.values())]
        return paginate(items, after=after, limit=limit, with_ids=self.listing_ids)
