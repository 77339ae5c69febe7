"""Batch API mode: every uncached request in one job, at half the price, collected later.

:func:`submit_batch` writes the requests as JSON Lines (one ``{"custom_id", "method", "url",
"body"}`` per distinct request; ``custom_id`` is the request's cache key), uploads the file
(purpose ``batch``), creates the batch (``completion_window="24h"``) and records everything
needed to collect it in a small JSON state file, so :func:`collect_batch` can run in another
process, a day later. Collecting downloads the output file, joins it on ``custom_id``, stores
every answer in the same response cache as normal requests (a later normal run reuses them) and
returns the recommendations in input order. Cost uses the Batch API price (half the normal one).

The state file's default name is derived from the requests themselves, so submitting the same
profiles again finds the batch already submitted instead of paying for a second one.
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
from typing import TYPE_CHECKING, Any, Final

from llmrec._io import atomic_open, write_json_atomic
from llmrec._progress import progress_bar
from llmrec.errors import BackendError, ConfigError, DataFormatError
from llmrec.recommenders._concurrency import RetryPolicy, call_with_retries

if TYPE_CHECKING:
    from llmrec.recommenders._openai_answers import Answer
    from llmrec.recommenders.base import Recommendation
    from llmrec.recommenders.openai import OpenAIRecommender

__all__ = ["BatchHandle", "collect_batch", "run_batch", "submit_batch"]

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


def _default_dir(rec: OpenAIRecommender) -> Path:
    cfg = rec.config
    if cfg.batch_dir is not None:
        return cfg.batch_dir
    return cfg.resolved_cache_path().parent / "batches"


def _read_state(path: Path) -> dict[str, Any]:
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


def _api(rec: OpenAIRecommender, label: str, fn: Any) -> Any:
    """One Batch/Files API call with the backend's retry policy."""
    import openai

    from llmrec.recommenders._openai_client import classify as _classify
    from llmrec.recommenders._openai_config import redact as _redact

    cfg = rec.config
    policy = RetryPolicy(cfg.max_retries, cfg.backoff_base, cfg.backoff_max)
    try:
        return call_with_retries(
            fn, classify=_classify, policy=policy, rng=random.Random(label), label=label
        )[0]
    except openai.APIError as exc:
        status = getattr(exc, "status_code", None)
        shown = f"HTTP {status}: " if status is not None else ""
        raise BackendError(
            f"{cfg.resolved_base_url()}: {label} failed: {shown}{_redact(exc.message)}"
        ) from None


def submit_batch(
    rec: OpenAIRecommender,
    profiles: Sequence[Sequence[int]],
    k: int,
    *,
    state_path: str | Path | None = None,
) -> BatchHandle:
    """Submit every request not already cached as one batch; return its handle.

    If ``state_path`` already tracks a batch for exactly these requests that has not ended yet,
    that batch is reused instead of paying for a second one; after it ended (its answers are
    cached), only the requests it did not answer are submitted again. A state
    file tracking other requests that were never collected is not overwritten.
    """
    keys, bodies = rec.plan(profiles, k)
    have = rec.cached_answers(keys)
    rec.check_replay(profiles, keys, have)
    todo = [key for key in bodies if key not in have]
    if len(todo) > MAX_REQUESTS:
        raise ConfigError(
            f"{len(todo)} requests exceed the Batch API's limit of {MAX_REQUESTS} per batch; "
            "split the profiles into several batches"
        )
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    folder = _default_dir(rec)
    path = Path(state_path) if state_path is not None else folder / f"batch-{digest}.json"
    if path.exists():
        old = _read_state(path)
        old_id = old.get("batch_id")
        if old.get("keys") == keys and old_id is not None and old.get("status") not in _TERMINAL:
            return BatchHandle(path, old_id, len(old.get("submitted", [])), len(keys))
        if old.get("keys") != keys and old_id is not None and not old.get("collected"):
            raise ConfigError(
                f"{path} tracks batch {old_id} for other requests, not collected yet; collect "
                "it first (collect_batch) or pass another state_path"
            )
    state: dict[str, Any] = {
        "format": STATE_FORMAT,
        "created_at": _now(),
        "endpoint": rec.endpoint,
        "model": rec.config.model,
        "k": k,
        "profiles": [list(p) for p in profiles],
        "keys": keys,
        "submitted": todo,
        "batch_id": None,
        "input_file_id": None,
        "config": rec.config.model_dump(mode="json"),
    }
    if not todo:
        write_json_atomic(path, state)
        return BatchHandle(path, None, 0, len(keys))
    input_path = path.with_suffix(".input.jsonl")
    with atomic_open(input_path, "w") as fh:
        for key in todo:
            line = {"custom_id": key, "method": "POST", "url": BATCH_URL, "body": bodies[key]}
            fh.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
    client = rec.client()

    def upload() -> Any:
        with open(input_path, "rb") as fh:
            return client.files.create(file=fh, purpose="batch")

    uploaded = _api(rec, "upload of the batch input file", upload)
    state["input_file_id"] = uploaded.id
    write_json_atomic(path, state)
    batch = _api(
        rec,
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


def _wait(rec: OpenAIRecommender, batch_id: str, *, wait: bool, poll_interval: float) -> Any:
    client = rec.client()
    bar = progress_bar(enabled=rec._progress_enabled(), desc=f"batch {batch_id}")
    done = 0
    try:
        while True:
            batch = _api(
                rec, f"status of batch {batch_id}", lambda: client.batches.retrieve(batch_id)
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


def _lines(rec: OpenAIRecommender, file_id: str | None) -> list[dict[str, Any]]:
    if not file_id:
        return []
    client = rec.client()
    text = _api(rec, f"download of {file_id}", lambda: client.files.content(file_id).text)
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


def _store(
    rec: OpenAIRecommender, state: dict[str, Any], rows: list[dict[str, Any]]
) -> tuple[dict[str, Answer], dict[str, str]]:
    """Cache every successful line; return the answers and the failures, both by key."""
    from llmrec.recommenders._openai_answers import Answer
    from llmrec.recommenders._openai_answers import usage as _usage

    wanted = set(state["submitted"])
    answers: dict[str, Answer] = {}
    failures: dict[str, str] = {}
    cache = rec.response_cache
    bodies: dict[str, dict[str, Any]] = {}
    if cache is not None:
        bodies = rec.plan([tuple(p) for p in state["profiles"]], int(state["k"]))[1]
    for row in rows:
        key = row.get("custom_id")
        if not isinstance(key, str) or key not in wanted:
            continue
        response = row.get("response") or {}
        body = response.get("body")
        if response.get("status_code") != 200 or not isinstance(body, dict):
            error = row.get("error") or body or {}
            failures[key] = str(error.get("message", error) if isinstance(error, dict) else error)
            continue
        pt, ct = _usage(body)
        cost = rec.cost(pt, ct, batch=True)
        if cache is not None:
            cache.put(
                key,
                endpoint=state["endpoint"],
                model=state["model"],
                request=bodies[key],
                response=body,
                prompt_tokens=pt,
                completion_tokens=ct,
                cost_usd=cost,
                latency_s=None,
                batch=True,
            )
        answers[key] = Answer(body, pt, ct, cost, None, 1, True, False)
    return answers, failures


def collect_batch(
    rec: OpenAIRecommender,
    state: BatchHandle | str | Path,
    *,
    wait: bool = True,
    poll_interval: float | None = None,
) -> list[Recommendation] | None:
    """Collect a submitted batch into recommendations, in the order the profiles were given.

    Returns ``None`` when the batch is still running and ``wait`` is false. Raises
    :class:`~llmrec.errors.BackendError` if the batch failed or some requests have no answer
    (those that do are cached, so a normal run afterwards requests only the rest).
    """
    path = state.state_path if isinstance(state, BatchHandle) else Path(state)
    st = _read_state(path)
    if st["endpoint"] != rec.endpoint or st["model"] != rec.config.model:
        raise ConfigError(
            f"batch {path} was submitted to {st['endpoint']} for model {st['model']!r}; this "
            f"backend uses {rec.endpoint} and {rec.config.model!r}"
        )
    keys: list[str] = st["keys"]
    profiles = [tuple(p) for p in st["profiles"]]
    answers = rec.cached_answers(keys)
    fresh: dict[str, Answer] = {}
    failures: dict[str, str] = {}
    if any(key not in answers for key in keys):
        batch_id = st.get("batch_id")
        if batch_id is None:
            raise BackendError(f"batch state {path} has no batch id; submit the batch again")
        interval = poll_interval if poll_interval is not None else rec.config.batch_poll_interval
        batch = _wait(rec, batch_id, wait=wait, poll_interval=interval)
        if batch.status not in _TERMINAL:
            return None
        st["status"] = batch.status
        write_json_atomic(path, st)
        rows = _lines(rec, getattr(batch, "output_file_id", None))
        rows += _lines(rec, getattr(batch, "error_file_id", None))
        fresh, failures = _store(rec, st, rows)
        if batch.status == "failed" and not fresh:
            errors = getattr(getattr(batch, "errors", None), "data", None) or []
            shown = "; ".join(str(getattr(e, "message", e)) for e in errors[:3])
            raise BackendError(f"batch {batch_id} failed: {shown or 'no reason given'}")
    missing = [key for key in dict.fromkeys(keys) if key not in answers and key not in fresh]
    if missing:
        first = missing[0]
        raise BackendError(
            f"batch {st.get('batch_id')} ({st.get('status')}) has no answer for "
            f"{len(missing)} of {len(set(keys))} requests (first {first}: "
            f"{failures.get(first, 'missing from the output')}); the answered ones are cached, "
            "so recommend_many with batch=False now requests only these"
        )
    answers.update(fresh)
    if fresh or not st.get("collected"):
        st["collected"] = True
        write_json_atomic(path, st)
    k = int(st["k"])
    return [
        rec._enforce(p, rec.to_recommendation(p, k, key, answers[key]), k)
        for p, key in zip(profiles, keys, strict=True)
    ]


def run_batch(
    rec: OpenAIRecommender, profiles: Sequence[Sequence[int]], k: int
) -> list[Recommendation]:
    """Submit, wait and collect: what ``recommend_many`` does with ``batch=True``."""
    handle = submit_batch(rec, profiles, k)
    result = collect_batch(rec, handle, wait=True)
    if result is None:  # pragma: no cover - wait=True only returns at a terminal status
        raise BackendError(f"batch {handle.batch_id} did not finish")
    return result
