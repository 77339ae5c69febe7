"""Chat completions through the official SDK, auth, errors and failure injection."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from typing import Any

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.testing import LocalOpenAIServer

MESSAGES: list[Any] = [
    {"role": "system", "content": "You recommend movies."},
    {"role": "user", "content": "I liked Heat and Ronin"},
]


def raw_request(
    server: LocalOpenAIServer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection, without the SDK (to see headers and raw errors)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


AUTH = {"Authorization": "Bearer sk-test"}


def test_round_trip_returns_the_chat_functions_text_with_usage(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    seen: list[dict[str, Any]] = []

    def chat(body: dict[str, Any]) -> str:
        seen.append(body)
        return "1. Heat (1995)\n2. Ronin (1998)"

    server.set_chat(chat)
    fmt: Any = {
        "type": "json_schema",
        "json_schema": {"name": "recs", "schema": {"type": "object"}},
    }
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, response_format=fmt, seed=7
    )
    assert reply.object == "chat.completion"
    assert reply.model == "gpt-4o-mini"
    assert reply.choices[0].message.content == "1. Heat (1995)\n2. Ronin (1998)"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.system_fingerprint
    # whitespace tokens: "You recommend movies." = 3, "I liked Heat and Ronin" = 5; reply = 6
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (8, 6)
    assert reply.usage.total_tokens == 14
    assert seen[0]["response_format"] == fmt and seen[0]["seed"] == 7
    (request,) = server.requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert isinstance(request.body, dict) and request.body["messages"] == MESSAGES
    assert request.status == 200


def test_default_chat_echoes_and_a_dict_reply_is_sent_as_is(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    reply = client.chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "I liked Heat and Ronin"
    whole = {
        "id": "chatcmpl-fixed",
        "object": "chat.completion",
        "created": 1,
        "model": "custom",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "fixed"},
                "finish_reason": "length",
                "logprobs": None,
            }
        ],
    }
    server.set_chat(lambda body: whole)
    reply = client.chat.completions.create(model="m", messages=MESSAGES)
    assert (reply.id, reply.model, reply.choices[0].finish_reason) == (
        "chatcmpl-fixed",
        "custom",
        "length",
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": MESSAGES}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": MESSAGES, "n": 2}, "n"),
    ],
)
def test_bad_chat_requests_get_openai_style_400(
    server: LocalOpenAIServer, body: dict[str, Any], param: str
) -> None:
    status, headers, data = raw_request(server, "POST", "/v1/chat/completions", body, AUTH)
    assert status == 400
    error = json.loads(data)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert headers["x-request-id"].startswith("req_")


def test_sdk_raises_bad_request_for_n_above_one(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="n=1"):
        client.chat.completions.create(model="m", messages=MESSAGES, n=2)


def test_requests_without_a_bearer_key_get_401(server: LocalOpenAIServer) -> None:
    body = {"model": "m", "messages": MESSAGES}
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        status, _, data = raw_request(server, "POST", "/v1/chat/completions", body, headers)
        assert status == 401
        assert "API key" in json.loads(data)["error"]["message"]
    status, _, _ = raw_request(server, "POST", "/v1/chat/completions", body, AUTH)
    assert status == 200


def test_a_required_key_rejects_others_through_the_sdk() -> None:
    with LocalOpenAIServer(api_key="right") as srv:
        bad = openai.OpenAI(base_url=srv.base_url, api_key="wrong", max_retries=0)
        with bad, pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="m", messages=MESSAGES)
        with openai.OpenAI(base_url=srv.base_url, api_key="right", max_retries=0) as good:
            assert good.chat.completions.create(model="m", messages=MESSAGES).choices


def test_chat_function_errors_become_500(server: LocalOpenAIServer) -> None:
    def broken(body: dict[str, Any]) -> str:
        raise RuntimeError("boom")

    server.set_chat(broken)
    status, _, data = raw_request(
        server, "POST", "/v1/chat/completions", {"model": "m", "messages": MESSAGES}, AUTH
    )
    assert status == 500
    assert "RuntimeError: boom" in json.loads(data)["error"]["message"]


def test_unknown_route_is_404_with_error_json(server: LocalOpenAIServer) -> None:
    status, headers, data = raw_request(server, "GET", "/v1/nothing", None, AUTH)
    assert status == 404
    assert json.loads(data)["error"]["message"] == "Invalid URL (GET /v1/nothing)"
    assert "x-request-id" in headers


@pytest.mark.parametrize("status", [429, 500, 503])
def test_injected_failures_are_retried_by_the_sdk(
    server: LocalOpenAIServer, client: openai.OpenAI, status: int
) -> None:
    server.fail_next(2, status=status, retry_after=0.01)
    reply = client.chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "I liked Heat and Ronin"
    assert [r.status for r in server.requests] == [status, status, 200]
    # the SDK resent the same body each time
    assert len({json.dumps(r.body, sort_keys=True) for r in server.requests}) == 1


def test_429_carries_retry_after_headers_and_error_json(server: LocalOpenAIServer) -> None:
    server.fail_next(1, status=429, retry_after=2.5)
    status, headers, data = raw_request(
        server, "POST", "/v1/chat/completions", {"model": "m", "messages": MESSAGES}, AUTH
    )
    assert status == 429
    assert headers["retry-after"] == "3" and headers["retry-after-ms"] == "2500"
    error = json.loads(data)["error"]
    assert error["code"] == "rate_limit_exceeded" and set(error) == {
        "message",
        "type",
        "param",
        "code",
    }
    assert "x-request-id" in headers


def test_failures_beyond_max_retries_reach_the_caller(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    server.fail_next(10, status=429, retry_after=0.01)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert len(server.requests) == 4  # one try and max_retries=3 retries
    server.reset_failures()
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices


def test_failures_match_their_path_prefix_only(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    server.fail_next(1, status=500, retry_after=0.01, path_prefix="/v1/files")
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert [r.status for r in server.requests] == [200]
    client.files.list()
    assert [r.status for r in server.requests] == [200, 500, 200]


def test_custom_error_body_is_sent(server: LocalOpenAIServer) -> None:
    body = {"error": {"message": "quota", "type": "insufficient_quota", "param": None, "code": "q"}}
    server.fail_next(1, status=429, retry_after=None, body=body)
    status, headers, data = raw_request(
        server, "POST", "/v1/chat/completions", {"model": "m", "messages": MESSAGES}, AUTH
    )
    assert (status, json.loads(data)) == (429, body)
    assert "retry-after" not in headers


def test_dropped_connection_is_retried(server: LocalOpenAIServer, client: openai.OpenAI) -> None:
    server.drop_next(1)
    reply = client.chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices
    assert [r.status for r in server.requests] == [None, 200]


def test_slow_answer_times_the_client_out(server: LocalOpenAIServer) -> None:
    server.slow_next(1, 5.0)
    with openai.OpenAI(
        base_url=server.base_url, api_key="k", max_retries=0, timeout=0.3
    ) as impatient:
        with pytest.raises(openai.APITimeoutError):
            impatient.chat.completions.create(model="m", messages=MESSAGES)
        assert impatient.chat.completions.create(model="m", messages=MESSAGES).choices


def _failing_bodies(rate: float, seed: int, n: int, order: list[int]) -> list[str]:
    with LocalOpenAIServer() as srv:
        srv.fail_randomly(rate, seed=seed, statuses=(500,))
        for i in order:
            raw_request(
                srv,
                "POST",
                "/v1/chat/completions",
                {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]},
                AUTH,
            )
        return sorted(json.dumps(r.body, sort_keys=True) for r in srv.requests if r.status == 500)


@settings(max_examples=8)
@given(
    rate=st.sampled_from([0.0, 0.3, 0.7, 1.0]),
    seed=st.integers(0, 1000),
    order=st.permutations(list(range(6))),
)
def test_random_failures_depend_on_seed_and_body_not_on_order(
    rate: float, seed: int, order: list[int]
) -> None:
    forward = _failing_bodies(rate, seed, 6, list(range(6)))
    shuffled = _failing_bodies(rate, seed, 6, order)
    assert forward == shuffled
    if rate == 0.0:
        assert forward == []
    if rate == 1.0:
        assert len(forward) == 6


def test_random_failures_hit_each_body_once_so_retries_succeed(server: LocalOpenAIServer) -> None:
    server.fail_randomly(1.0, statuses=(429, 500), retry_after=0.01)
    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=1) as c:
        for i in range(5):
            msgs: Any = [{"role": "user", "content": f"movie {i}"}]
            assert (
                c.chat.completions.create(model="m", messages=msgs).choices[0].message.content
                == f"movie {i}"
            )
    statuses = [r.status for r in server.requests]
    assert len(statuses) == 10
    assert statuses[1::2] == [200] * 5 and all(s in (429, 500) for s in statuses[0::2])


def test_records_are_snapshots_and_can_be_cleared(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    client.chat.completions.create(model="m", messages=MESSAGES)
    snapshot = server.requests
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert len(snapshot) == 1 and len(server.requests) == 2
    server.clear_requests()
    assert server.requests == []


def test_runs_standalone_as_a_module() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "llmrec.testing.server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving OpenAI-compatible API at http://127.0.0.1:" in line
        base_url = line.split(" at ")[1].split(" ")[0]
        with openai.OpenAI(base_url=base_url, api_key="k", max_retries=0) as c:
            reply = c.chat.completions.create(model="m", messages=MESSAGES)
        assert reply.choices[0].message.content == "I liked Heat and Ronin"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "Warning" not in err


def test_keep_alive_and_chunked_bodies_work(server: LocalOpenAIServer) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        body = json.dumps({"model": "m", "messages": MESSAGES}).encode()
        headers = {**AUTH, "Content-Type": "application/json"}
        for _ in range(3):  # one connection, three requests
            conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
            resp = conn.getresponse()
            assert resp.status == 200 and resp.getheader("Connection") != "close"
            assert (
                json.loads(resp.read())["choices"][0]["message"]["content"]
                == MESSAGES[1]["content"]
            )
        pieces = iter([body[:10], body[10:]])
        conn.request(
            "POST", "/v1/chat/completions", body=pieces, headers=headers, encode_chunked=True
        )
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read()
    finally:
        conn.close()
    assert [r.status for r in server.requests] == [200] * 4
    assert server.requests[-1].body == json.loads(body)


def test_clearing_while_a_request_is_in_flight_keeps_later_records_right(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    server.slow_next(1, 0.5)
    slow = threading.Thread(
        target=lambda: client.chat.completions.create(model="m", messages=MESSAGES)
    )
    slow.start()
    deadline = time.monotonic() + 10
    while not server.requests:  # the slow request has arrived
        assert time.monotonic() < deadline
        time.sleep(0.01)
    server.clear_requests()
    server.fail_next(1, status=500, retry_after=None)
    no_retry = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    with no_retry, pytest.raises(openai.InternalServerError):
        no_retry.chat.completions.create(model="m", messages=MESSAGES)
    slow.join()
    assert [r.status for r in server.requests] == [500]


def test_latency_runs_from_arrival_and_the_reply_is_built_meanwhile(
    server: LocalOpenAIServer,
) -> None:
    called: list[float] = []

    def chat(body: dict[str, Any]) -> str:
        called.append(time.monotonic())
        return "1. Heat (1995)"

    server.set_chat(chat)
    server.latency = 0.3
    start = time.monotonic()
    status, headers, data = raw_request(
        server, "POST", "/v1/chat/completions", {"model": "m", "messages": MESSAGES}, AUTH
    )
    answered = time.monotonic()
    assert status == 200
    assert json.loads(data)["choices"][0]["message"]["content"] == "1. Heat (1995)"
    # the reply waits for the latency, counted from the request's arrival ...
    assert answered - start >= 0.3
    # ... and the chat function ran on arrival, not after the wait
    assert called[0] < answered - 0.25
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(data)
    assert headers["x-request-id"].startswith("req_") and headers["openai-organization"]
    assert "date" in headers and "server" in headers
    assert [r.status for r in server.requests] == [200]


def test_a_slowed_request_waits_the_delay_on_top_of_the_latency(
    server: LocalOpenAIServer,
) -> None:
    server.latency = 0.15
    server.slow_next(1, 0.2)
    start = time.monotonic()
    status, _, _ = raw_request(
        server, "POST", "/v1/chat/completions", {"model": "m", "messages": MESSAGES}, AUTH
    )
    assert status == 200
    assert time.monotonic() - start >= 0.35
