"""The OpenAI Batch API transport: every request in one job, at half the price, collected later.

:meth:`OpenAIBatchTransport.submit` writes the requests as JSON Lines (one ``{"custom_id",
"method", "url", "body"}`` per distinct request; ``custom_id`` is the request's cache key),
uploads the file (purpose ``batch``), creates the batch (``completion_window="24h"``) and records
everything needed to collect it in a small JSON state file, so :meth:`OpenAIBatchTransport.collect`
can run in another process, a day later. Collecting downloads the output and error files, joins
them on ``custom_id`` and returns the answers by key; the pipeline stores them in the same
response cache as normal requests. Cost uses the Batch API price (half the normal one).

:meth:`OpenAIBatchTransport.send` is submit, wait and collect in one call. The state file's
default name is derived from the requests themselves, so submitting the same requests again
finds the batch already submitted instead of paying for a second one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from llmrec._io import atomic_open, write_json_atomic
from llmrec._progress import progress_bar
from llmrec.errors import BackendError, ConfigError, DataFormatError
from llmrec.openai_api.client import classify
from llmrec.openai_api.keys import redact
from llmrec.openai_api.redact import mask_url
from llmrec.openai_api.retry import call_with_retries
from llmrec.recommenders.llm.transports.base import (
    DEFERRED,
    STRUCTURED_OUTPUT,
    AnswerCallback,
    ChatAnswer,
    ChatRequest,
    usage,
)
from llmrec.recommenders.llm.transports.openai_chat import OpenAIChatTransport, OpenAISettings

__all__ = ["BatchHandle", "OpenAIBatchTransport", "read_state"]

STATE_FORMAT = "llmrec-openai-batch/1"
BATCH_URL: Final = "/v1/chat/completions"
MAX_REQUESTS = 50_000
"""OpenAI's limit on requests in one batch."""
_ENDED = frozenset({"failed", "expired", "cancelled"})
_TERMINAL = frozenset({"completed"}) | _ENDED


@dataclass(frozen=True)
class BatchHandle:
    """Where a submitted batch's state lives, and its id (``None``: nothing needed sending)."""

    state_path: Path
    batch_id: str | None
    n_requests: int
    n_profiles: int


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_state(path: Path) -> dict[str, Any]:
    """A batch state file, checked."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no batch state file at {path}; submit the batch first") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"not a batch state file: {exc}", path=path, line=exc.lineno) from exc
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        shown = state.get("format") if isinstance(state, dict) else None
        raise DataFormatError(f"expected format {STATE_FORMAT!r}", path=path, text=str(shown))
    return state


class OpenAIBatchTransport(OpenAIChatTransport):
    """Chat completions through the Batch API (see module docstring)."""

    capabilities: ClassVar[frozenset[str]] = frozenset({STRUCTURED_OUTPUT, DEFERRED})

    def __init__(
        self,
        settings: OpenAISettings,
        *,
        state_dir: Path,
        poll_interval: float = 30.0,
        price: Any = None,
        progress: bool = False,
    ) -> None:
        super().__init__(settings, price=price)
        self.state_dir = state_dir
        self.poll_interval = poll_interval
        self.progress = progress

    def _api(self, label: str, fn: Any) -> Any:
        """One Batch/Files API call with the backend's retry policy."""
        import openai

        try:
            return call_with_retries(
                fn,
                classify=classify,
                policy=self.settings.policy,
                rng=random.Random(label),
                label=label,
            )[0]
        except openai.APIError as exc:
            status = getattr(exc, "status_code", None)
            shown = f"HTTP {status}: " if status is not None else ""
            raise BackendError(
                f"{mask_url(self.settings.base_url)}: {label} failed: {shown}{redact(exc.message)}"
            ) from None

    def default_state_path(self, keys: Sequence[str]) -> Path:
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        return self.state_dir / f"batch-{digest}.json"

    def submit(
        self,
        requests: Sequence[ChatRequest],
        *,
        keys: Sequence[str],
        state_path: Path | None = None,
        extra: dict[str, Any] | None = None,
    ) -> BatchHandle:
        """Submit ``requests`` (distinct, uncached) as one batch; ``keys`` are every profile's.

        If the state file already tracks a batch for exactly these ``keys`` that has not ended
        yet, that batch is reused instead of paying for a second one. A state file tracking
        other requests that were never collected is not overwritten. ``extra`` is stored in
        the state file (what the pipeline needs to rebuild recommendations).
        """
        keys = list(keys)
        todo = [r.key for r in requests]
        if len(todo) > MAX_REQUESTS:
            raise ConfigError(
                f"{len(todo)} requests exceed the Batch API's limit of {MAX_REQUESTS} per batch; "
                "split the profiles into several batches"
            )
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        path = state_path if state_path is not None else self.default_state_path(keys)
        if path.exists():
            old = read_state(path)
            old_id = old.get("batch_id")
            if (
                old.get("keys") == keys
                and old_id is not None
                and old.get("status") not in _TERMINAL
            ):
                return BatchHandle(path, old_id, len(old.get("submitted", [])), len(keys))
            if old.get("keys") != keys and old_id is not None and not old.get("collected"):
                raise ConfigError(
                    f"{path} tracks batch {old_id} for other requests, not collected yet; collect "
                    "it first (collect_batch) or pass another state_path"
                )
        state: dict[str, Any] = {
            "format": STATE_FORMAT,
            "created_at": _now(),
            "endpoint": self.endpoint,
            "model": self.model,
            **(extra or {}),
            "keys": keys,
            "submitted": todo,
            "batch_id": None,
            "input_file_id": None,
        }
        if not todo:
            write_json_atomic(path, state)
            return BatchHandle(path, None, 0, len(keys))
        input_path = path.with_suffix(".input.jsonl")
        with atomic_open(input_path, "w") as fh:
            for r in requests:
                line = {"custom_id": r.key, "method": "POST", "url": BATCH_URL, "body": r.body}
                fh.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
        client = self.client()

        def upload() -> Any:
            with open(input_path, "rb") as fh:
                return client.files.create(file=fh, purpose="batch")

        uploaded = self._api("upload of the batch input file", upload)
        state["input_file_id"] = uploaded.id
        write_json_atomic(path, state)
        batch = self._api(
            "creation of the batch",
            lambda: client.batches.create(
                input_file_id=uploaded.id,
                endpoint=BATCH_URL,
                completion_window="24h",
                metadata={"llmrec_batch": digest},
            ),
        )
        state["batch_id"] = batch.id
        state["status"] = batch.status
        write_json_atomic(path, state)
        return BatchHandle(path, batch.id, len(todo), len(keys))

    def _wait(self, batch_id: str, *, wait: bool, poll_interval: float) -> Any:
        client = self.client()
        bar = progress_bar(enabled=self.progress, desc=f"batch {batch_id}")
        done = 0
        try:
            while True:
                batch = self._api(
                    f"status of batch {batch_id}", lambda: client.batches.retrieve(batch_id)
                )
                counts = getattr(batch, "request_counts", None)
                if counts is not None:
                    bar.total = counts.total
                    bar.update(max(0, counts.completed + counts.failed - done))
                    done = counts.completed + counts.failed
                if batch.status in _TERMINAL or not wait:
                    return batch
                time.sleep(poll_interval)
        finally:
            bar.close()

    def _lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        client = self.client()
        text = self._api(f"download of {file_id}", lambda: client.files.content(file_id).text)
        rows = []
        for number, line in enumerate(str(text).splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise DataFormatError(
                    "not JSON", path=f"batch file {file_id}", line=number, text=line[:200]
                ) from None
        return rows

    def _answers(
        self, state: dict[str, Any], rows: list[dict[str, Any]]
    ) -> tuple[dict[str, ChatAnswer], dict[str, str]]:
        """The answers and the failures in the downloaded lines, both by key."""
        wanted = set(state["submitted"])
        answers: dict[str, ChatAnswer] = {}
        failures: dict[str, str] = {}
        for row in rows:
            key = row.get("custom_id")
            if not isinstance(key, str) or key not in wanted:
                continue
            response = row.get("response") or {}
            body = response.get("body")
            if response.get("status_code") != 200 or not isinstance(body, dict):
                error = row.get("error") or body or {}
                failures[key] = str(
                    error.get("message", error) if isinstance(error, dict) else error
                )
                continue
            pt, ct = usage(body)
            answers[key] = ChatAnswer(body, pt, ct, self.cost(pt, ct, batch=True), None, 1, True)
        return answers, failures

    def collect(
        self,
        path: Path,
        *,
        have: set[str],
        wait: bool = True,
        poll_interval: float | None = None,
    ) -> tuple[dict[str, Any], dict[str, ChatAnswer], dict[str, str]] | None:
        """Wait for the batch at ``path`` and download what it answered.

        ``have`` are keys already answered (cached); if that is every key, nothing is asked.
        Returns ``(state, fresh answers by key, failures by key)``, or ``None`` while the batch
        runs and ``wait`` is false. Raises :class:`~llmrec.errors.BackendError` if the batch
        failed without answering anything.
        """
        st = read_state(path)
        if st["endpoint"] != self.endpoint or st["model"] != self.model:
            raise ConfigError(
                f"batch {path} was submitted to {st['endpoint']} for model {st['model']!r}; this "
                f"backend uses {self.endpoint} and {self.model!r}"
            )
        fresh: dict[str, ChatAnswer] = {}
        failures: dict[str, str] = {}
        if any(key not in have for key in st["keys"]):
            batch_id = st.get("batch_id")
            if batch_id is None:
                raise BackendError(f"batch state {path} has no batch id; submit the batch again")
            interval = poll_interval if poll_interval is not None else self.poll_interval
            batch = self._wait(batch_id, wait=wait, poll_interval=interval)
            if batch.status not in _TERMINAL:
                return None
            st["status"] = batch.status
            write_json_atomic(path, st)
            rows = self._lines(getattr(batch, "output_file_id", None))
            rows += self._lines(getattr(batch, "error_file_id", None))
            fresh, failures = self._answers(st, rows)
            if batch.status == "failed" and not fresh:
                errors = getattr(getattr(batch, "errors", None), "data", None) or []
                shown = "; ".join(str(getattr(e, "message", e)) for e in errors[:3])
                raise BackendError(f"batch {batch_id} failed: {shown or 'no reason given'}")
        return st, fresh, failures

    @staticmethod
    def check_complete(st: dict[str, Any], answered: set[str], failures: dict[str, str]) -> None:
        """Raise naming the first request the batch did not answer, if any."""
        keys: list[str] = st["keys"]
        missing = [key for key in dict.fromkeys(keys) if key not in answered]
        if missing:
            first = missing[0]
            raise BackendError(
                f"batch {st.get('batch_id')} ({st.get('status')}) has no answer for "
                f"{len(missing)} of {len(set(keys))} requests (first {first}: "
                f"{failures.get(first, 'missing from the output')}); the answered ones are "
                "cached, so recommend_many with batch=False now requests only these"
            )

    @staticmethod
    def mark_collected(path: Path, st: dict[str, Any], fresh: bool) -> None:
        if fresh or not st.get("collected"):
            st["collected"] = True
            write_json_atomic(path, st)

    def send(
        self, requests: Sequence[ChatRequest], *, on_answer: AnswerCallback | None = None
    ) -> list[ChatAnswer]:
        """Submit ``requests`` as one batch, wait for it, return the answers in order."""
        keys = [r.key for r in requests]
        handle = self.submit(requests, keys=keys)
        got = self.collect(handle.state_path, have=set(), wait=True)
        if got is None:  # pragma: no cover - wait=True only returns at a terminal status
            raise BackendError(f"batch {handle.batch_id} did not finish")
        st, fresh, failures = got
        by_key = {r.key: r for r in requests}
        for key, answer in fresh.items():
            if on_answer is not None and key in by_key:
                on_answer(by_key[key], answer)
        self.check_complete(st, set(fresh), failures)
        self.mark_collected(handle.state_path, st, bool(fresh))
        return [fresh[k] for k in keys]
