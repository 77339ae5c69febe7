"""Shared pieces of the local server's state: API errors, ids, token counts and uploaded files."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "APIError",
    "FileStore",
    "IdMaker",
    "StoredFile",
    "count_message_tokens",
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
