"""The local server's endpoints, one small function each, found through a route table."""

from __future__ import annotations

import email.parser
import email.policy
import re

from llmrec.openai_api.models import DEFAULT_MODEL
from llmrec.testing.openai_server._batches import run_batch
from llmrec.testing.openai_server._chat import (
    check_chat_request,
    complete,
    reject_unsupported_format,
)
from llmrec.testing.openai_server._interface import Call, Reply, Route, ServerState
from llmrec.testing.openai_server._logprobs import add_logprobs
from llmrec.testing.openai_server._state import FILE_PURPOSES, APIError

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


def parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """``{field name: (file name or None, bytes)}`` from a ``multipart/form-data`` body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise APIError(400, "expected a multipart/form-data body")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True)
        fields[name] = (part.get_filename(), data if isinstance(data, bytes) else b"")
    return fields


# -- chat ------------------------------------------------------------------------------------
def chat_completion(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    """Answer at once; the handler holds the reply until ``latency`` after the arrival, so the
    time spent building it is hidden inside the latency instead of added to it."""
    body = check_chat_request(call.json)
    reject_unsupported_format(body, app.reject_response_formats)
    latency = app.latency
    reply = complete(body, app.chat, app.ids, app.token_counter)
    reply = add_logprobs(body, reply, app.logprobs, app.prompt_logprob)
    return Reply(200, reply, not_before=call.received + latency if latency > 0 else None)


def list_models(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    with app.lock:
        app.jobs.advance_all()
        tuned = [j.api["fine_tuned_model"] for j in app.jobs.items.values()]
    names = [DEFAULT_MODEL, "gpt-4o-mini", *(t for t in tuned if t)]
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "llmrec-local"} for n in names]
    return Reply(200, {"object": "list", "data": data})


# -- files -----------------------------------------------------------------------------------
def upload_file(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    fields = parse_multipart(call.headers.get("Content-Type", ""), call.raw)
    purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
    if purpose not in FILE_PURPOSES:
        allowed = ", ".join(sorted(FILE_PURPOSES))
        message = f"the local server accepts purpose {allowed}; got '{purpose}'"
        raise APIError(400, message, param="purpose")
    if "file" not in fields:
        raise APIError(400, "missing the 'file' field", param="file")
    filename, content = fields["file"]
    with app.lock:
        stored = app.files.add(filename or "upload.jsonl", purpose, content)
    return Reply(200, stored.to_api())


def list_files(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    q = call.query
    with app.lock:
        page = app.files.listing(
            purpose=q.get("purpose"),
            after=q.get("after"),
            limit=_limit(call, 10000),
            order=q.get("order", "desc"),
        )
    return Reply(200, page)


def get_file(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    with app.lock:
        return Reply(200, app.files.get(m["id"]).to_api())


def file_content(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    with app.lock:
        return Reply(200, app.files.get(m["id"]).content)


def delete_file(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    with app.lock:
        return Reply(200, app.files.delete(m["id"]))


# -- fine-tuning -----------------------------------------------------------------------------
def create_job(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    body = _json_object(call)
    with app.lock:
        return Reply(200, app.jobs.create(body))


def list_jobs(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    with app.lock:
        return Reply(200, app.jobs.listing(after=call.query.get("after"), limit=_limit(call, 20)))


def get_job(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    with app.lock:
        return Reply(200, app.jobs.get(m["id"]))


def job_events(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    after, limit = call.query.get("after"), _limit(call, 20)
    with app.lock:
        return Reply(200, app.jobs.events(m["id"], after=after, limit=limit))


def job_checkpoints(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    after, limit = call.query.get("after"), _limit(call, 10)
    with app.lock:
        return Reply(200, app.jobs.checkpoints(m["id"], after=after, limit=limit))


def cancel_job(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    with app.lock:
        return Reply(200, app.jobs.cancel(m["id"]))


# -- batches ---------------------------------------------------------------------------------
def create_batch(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    body = _json_object(call)
    with app.lock:
        content = app.batches.input_content(body)
    result = run_batch(content, app.chat, app.ids, app.token_counter)  # outside the lock
    with app.lock:
        return Reply(200, app.batches.add(body, result))


def list_batches(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    after, limit = call.query.get("after"), _limit(call, 20)
    with app.lock:
        return Reply(200, app.batches.listing(after=after, limit=limit))


def get_batch(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    with app.lock:
        return Reply(200, app.batches.get(m["id"]))


def cancel_batch(app: ServerState, call: Call, m: re.Match[str]) -> Reply:
    with app.lock:
        return Reply(200, app.batches.cancel(m["id"]))


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
