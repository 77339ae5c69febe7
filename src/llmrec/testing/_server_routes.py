"""The local server's endpoints, one small function each, found through a route table."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from llmrec.openai_api.models import DEFAULT_MODEL
from llmrec.testing._server_batches import run_batch
from llmrec.testing._server_chat import check_chat_request, complete, reject_unsupported_format
from llmrec.testing._server_http import Call, Reply, Route, parse_multipart
from llmrec.testing._server_state import FILE_PURPOSES, APIError

if TYPE_CHECKING:
    from llmrec.testing.server import LocalOpenAIServer

__all__ = ["find_route"]


def _limit(call: Call, default: int) -> int:
    value = call.query.get("limit")
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise APIError(400, f"limit must be an integer, got '{value}'", param="limit") from None


def _json_object(call: Call) -> dict[str, object]:
    if not isinstance(call.json, dict):
        raise APIError(400, "the request body must be a JSON object")
    return call.json


# -- chat ------------------------------------------------------------------------------------
def chat_completion(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    """Answer at once; the handler holds the reply until ``latency`` after the arrival, so the
    time spent building it is hidden inside the latency instead of added to it."""
    body = check_chat_request(call.json)
    reject_unsupported_format(body, app.reject_response_formats)
    latency = app.latency
    reply = complete(body, app._chat, app._ids, app._token_counter)
    return Reply(200, reply, not_before=call.received + latency if latency > 0 else None)


def list_models(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    with app._lock:
        app._jobs.advance_all()
        tuned = [j.api["fine_tuned_model"] for j in app._jobs.jobs.values()]
    names = [DEFAULT_MODEL, "gpt-4o-mini", *(t for t in tuned if t)]
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "llmrec-local"} for n in names]
    return Reply(200, {"object": "list", "data": data})


# -- files -----------------------------------------------------------------------------------
def upload_file(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    fields = parse_multipart(call.headers.get("Content-Type", ""), call.raw)
    purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
    if purpose not in FILE_PURPOSES:
        allowed = ", ".join(sorted(FILE_PURPOSES))
        message = f"the local server accepts purpose {allowed}; got '{purpose}'"
        raise APIError(400, message, param="purpose")
    if "file" not in fields:
        raise APIError(400, "missing the 'file' field", param="file")
    filename, content = fields["file"]
    with app._lock:
        stored = app._files.add(filename or "upload.jsonl", purpose, content)
    return Reply(200, stored.to_api())


def list_files(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    q = call.query
    with app._lock:
        page = app._files.listing(
            purpose=q.get("purpose"),
            after=q.get("after"),
            limit=_limit(call, 10000),
            order=q.get("order", "desc"),
        )
    return Reply(200, page)


def get_file(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    with app._lock:
        return Reply(200, app._files.get(m["id"]).to_api())


def file_content(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    with app._lock:
        return Reply(200, app._files.get(m["id"]).content)


def delete_file(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    with app._lock:
        return Reply(200, app._files.delete(m["id"]))


# -- fine-tuning -----------------------------------------------------------------------------
def create_job(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    body = _json_object(call)
    with app._lock:
        return Reply(200, app._jobs.create(body))


def list_jobs(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    with app._lock:
        return Reply(200, app._jobs.listing(after=call.query.get("after"), limit=_limit(call, 20)))


def get_job(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    with app._lock:
        return Reply(200, app._jobs.get(m["id"]))


def job_events(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    after, limit = call.query.get("after"), _limit(call, 20)
    with app._lock:
        return Reply(200, app._jobs.events(m["id"], after=after, limit=limit))


def job_checkpoints(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    after, limit = call.query.get("after"), _limit(call, 10)
    with app._lock:
        return Reply(200, app._jobs.checkpoints(m["id"], after=after, limit=limit))


def cancel_job(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    with app._lock:
        return Reply(200, app._jobs.cancel(m["id"]))


# -- batches ---------------------------------------------------------------------------------
def create_batch(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    body = _json_object(call)
    with app._lock:
        content = app._batches.input_content(body)
    result = run_batch(content, app._chat, app._ids, app._token_counter)  # outside the lock
    with app._lock:
        return Reply(200, app._batches.add(body, result))


def list_batches(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    after, limit = call.query.get("after"), _limit(call, 20)
    with app._lock:
        return Reply(200, app._batches.listing(after=after, limit=limit))


def get_batch(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    with app._lock:
        return Reply(200, app._batches.get(m["id"]))


def cancel_batch(app: LocalOpenAIServer, call: Call, m: re.Match[str]) -> Reply:
    with app._lock:
        return Reply(200, app._batches.cancel(m["id"]))


_ID = r"(?P<id>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    (method, re.compile(f"^/v1{pattern}/?$"), route)
    for method, pattern, route in [
        ("POST", "/chat/completions", chat_completion),
        ("GET", "/models", list_models),
        ("POST", "/files", upload_file),
        ("GET", "/files", list_files),
        ("GET", f"/files/{_ID}", get_file),
        ("GET", f"/files/{_ID}/content", file_content),
        ("DELETE", f"/files/{_ID}", delete_file),
        ("POST", "/fine_tuning/jobs", create_job),
        ("GET", "/fine_tuning/jobs", list_jobs),
        ("GET", f"/fine_tuning/jobs/{_ID}", get_job),
        ("GET", f"/fine_tuning/jobs/{_ID}/events", job_events),
        ("GET", f"/fine_tuning/jobs/{_ID}/checkpoints", job_checkpoints),
        ("POST", f"/fine_tuning/jobs/{_ID}/cancel", cancel_job),
        ("POST", "/batches", create_batch),
        ("GET", "/batches", list_batches),
        ("GET", f"/batches/{_ID}", get_batch),
        ("POST", f"/batches/{_ID}/cancel", cancel_batch),
    ]
]


def find_route(method: str, path: str) -> tuple[Route, re.Match[str]]:
    """The route for ``method path``; an OpenAI-style 404 when there is none."""
    for route_method, pattern, route in _ROUTES:
        match = pattern.match(path)
        if match is not None and route_method == method:
            return route, match
    raise APIError(404, f"Invalid URL ({method} {path})")
