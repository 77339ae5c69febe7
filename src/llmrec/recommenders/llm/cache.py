"""A durable response cache for paid LLM calls: one sqlite file, one row per distinct request.

Why: a study run sends thousands of paid requests. With every answer committed the moment it
arrives, a rerun serves every answered request from disk, an interrupted run resumes where it
stopped and pays for nothing twice, and a finished run can be replayed offline, exactly.

The key is the SHA-256 of the canonical JSON (sorted keys, no spaces) of
``{"endpoint": ..., "model": ..., "body": ...}``: the full endpoint URL, the model and the whole
request body. The API key travels in an HTTP header, never in the body, so it never enters the
key, the stored request or any other column.

The file uses sqlite's write-ahead log with ``synchronous=NORMAL``: each answer is one committed
transaction that survives a killed process (the commit is in the operating system's hands);
only a power cut can lose the last few answers, which a rerun then asks for again.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError, DataFormatError

__all__ = ["CacheStats", "CachedResponse", "ResponseCache", "request_key"]

_SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    latency_s REAL,
    batch INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    n_writes INTEGER NOT NULL DEFAULT 1,
    structured_mode TEXT
);
"""
# SQLite's default limit on host parameters in one statement is 999 on old builds.
_CHUNK = 900


def _add_mode_column(conn: sqlite3.Connection) -> None:
    """Files written before ``structured_mode`` existed get the column (NULL: not recorded)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(responses)")}
    if "structured_mode" not in columns:
        try:
            conn.execute("ALTER TABLE responses ADD COLUMN structured_mode TEXT")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace: equal objects, equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(endpoint: str, model: str, body: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``{"endpoint", "model", "body"}``."""
    text = canonical_json({"endpoint": endpoint, "model": model, "body": dict(body)})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedResponse:
    """One stored answer: the response JSON as the server sent it, plus what it cost."""

    key: str
    response: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    latency_s: float | None
    batch: bool
    structured_mode: str | None = None
    """How structured output was asked for when this answer was received (if it was)."""


@dataclass(frozen=True)
class CacheStats:
    """Size of a cache file: stored answers, their tokens and cost, and repeated writes.

    ``duplicate_writes`` counts answers that arrived for a key already stored (the first answer
    is kept); a run that never pays twice leaves it at zero.
    """

    entries: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duplicate_writes: int


class ResponseCache:
    """Thread-safe sqlite store of request → response, committed answer by answer.

    Opened lazily on first use; one connection guarded by a lock serves all threads (sqlite
    calls are short next to a network round trip). Safe to share between processes: sqlite's
    own locking serialises writers and WAL lets readers proceed.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=60.0, check_same_thread=False, isolation_level=None
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(_SCHEMA)
                _add_mode_column(conn)
                row = conn.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
                if row is None:
                    conn.execute(
                        "INSERT OR IGNORE INTO meta(name, value) VALUES ('schema', ?)",
                        (_SCHEMA_VERSION,),
                    )
                elif row[0] != _SCHEMA_VERSION:
                    conn.close()
                    raise ConfigError(
                        f"response cache {self.path} has schema version {row[0]!r}, this "
                        f"llmrec reads version {_SCHEMA_VERSION!r}; point `cache` at a new file"
                    )
            except sqlite3.DatabaseError as exc:
                raise ConfigError(
                    f"cannot open the response cache {self.path}: {exc}; "
                    "point `cache` at another file or delete this one"
                ) from exc
            self._conn = conn
        return self._conn

    def damaged(self, exc: sqlite3.DatabaseError) -> DataFormatError:
        """The error for a cache file sqlite cannot read: names the file and the fix."""
        return DataFormatError(
            f"the response cache is damaged ({exc}); delete the file (its answers are asked "
            "for again, and paid for again, by the next run) or point `cache` at another file",
            path=self.path,
        )

    def bad_row(self, key: str, problem: str) -> DataFormatError:
        """The error for one unusable stored answer: names the file, the row and the fix."""
        return DataFormatError(
            f"the stored answer for request {key} {problem}; discard the row with "
            f"`ResponseCache({str(self.path)!r}).discard([{key!r}])` (or delete the file) "
            "and run again: that request is asked for again",
            path=self.path,
        )

    def discard(self, keys: Iterable[str]) -> int:
        """Delete the stored answers of ``keys`` (e.g. a damaged row); returns how many."""
        wanted = list(dict.fromkeys(keys))
        removed = 0
        with self._lock:
            try:
                conn = self._connect()
                for start in range(0, len(wanted), _CHUNK):
                    chunk = wanted[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    cur = conn.execute(f"DELETE FROM responses WHERE key IN ({marks})", chunk)
                    removed += max(cur.rowcount, 0)
            except sqlite3.DatabaseError as exc:
                raise self.damaged(exc) from exc
        return removed

    def close(self) -> None:
        """Close the connection (reopened on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, keys: Iterable[str]) -> dict[str, CachedResponse]:
        """Every stored answer among ``keys``, in a few queries (the fast path of a rerun)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, CachedResponse] = {}
        with self._lock:
            conn = self._connect()
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                try:
                    rows = conn.execute(
                        "SELECT key, response, prompt_tokens, completion_tokens, cost_usd, "
                        f"latency_s, batch, structured_mode FROM responses WHERE key IN ({marks})",
                        chunk,
                    ).fetchall()
                except sqlite3.DatabaseError as exc:
                    raise self.damaged(exc) from exc
                for key, resp, pt, ct, cost, lat, batch, mode in rows:
                    found[key] = self._row(key, resp, pt, ct, cost, lat, batch, mode)
        return found

    def _row(
        self, key: str, resp: Any, pt: Any, ct: Any, cost: Any, lat: Any, batch: Any, mode: Any
    ) -> CachedResponse:
        try:
            response = json.loads(resp)
        except (TypeError, ValueError) as exc:
            raise self.bad_row(key, f"is not valid JSON ({exc})") from None
        if not isinstance(response, dict):
            raise self.bad_row(key, f"is a JSON {type(response).__name__}, not an object")
        try:
            mode = None if mode is None else str(mode)
            return CachedResponse(key, response, int(pt), int(ct), cost, lat, bool(batch), mode)
        except (TypeError, ValueError) as exc:
            raise self.bad_row(key, f"has unreadable token counts ({exc})") from None

    def get(self, key: str) -> CachedResponse | None:
        """The stored answer for ``key``, or ``None``."""
        return self.get_many([key]).get(key)

    def put(
        self,
        key: str,
        *,
        endpoint: str,
        model: str,
        request: Mapping[str, Any],
        response: Mapping[str, Any],
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float | None = None,
        latency_s: float | None = None,
        batch: bool = False,
        structured_mode: str | None = None,
    ) -> bool:
        """Store one answer and commit; return ``False`` if ``key`` was already stored.

        The first answer for a key is kept (a replay stays what was paid for); a repeat only
        increments ``n_writes``, which :meth:`stats` reports as ``duplicate_writes``.
        """
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        row = (
            key,
            endpoint,
            model,
            canonical_json(dict(request)),
            canonical_json(dict(response)),
            int(prompt_tokens),
            int(completion_tokens),
            cost_usd,
            latency_s,
            int(batch),
            now,
            structured_mode,
        )
        with self._lock:
            conn = self._connect()
            # One statement in autocommit mode is one transaction: the answer is committed
            # when ``execute`` returns, with a single round into sqlite (and a single release
            # of the interpreter lock) instead of BEGIN / INSERT / COMMIT.
            try:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO responses(key, endpoint, model, request, response, "
                    "prompt_tokens, completion_tokens, cost_usd, latency_s, batch, created_at, "
                    "structured_mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                inserted = cur.rowcount == 1
                if not inserted:
                    conn.execute(
                        "UPDATE responses SET n_writes = n_writes + 1 WHERE key = ?", (key,)
                    )
            except sqlite3.DatabaseError as exc:
                raise self.damaged(exc) from exc
        return inserted

    def __len__(self) -> int:
        with self._lock:
            try:
                (n,) = self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()
            except sqlite3.DatabaseError as exc:
                raise self.damaged(exc) from exc
        return int(n)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def stats(self) -> CacheStats:
        """Totals over the whole file."""
        with self._lock:
            row = (
                self._connect()
                .execute(
                    "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), "
                    "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0.0), "
                    "COALESCE(SUM(n_writes - 1), 0) FROM responses"
                )
                .fetchone()
            )
        return CacheStats(int(row[0]), int(row[1]), int(row[2]), float(row[3]), int(row[4]))
