"""Batches on the local server: lifecycle, output and error files, invalid input, cancel."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from llmrec.testing import LocalOpenAIServer


def batch_line(custom_id: str, body: dict[str, Any]) -> str:
    return json.dumps(
        {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    )


def follow(client: openai.OpenAI, batch_id: str) -> tuple[Any, list[str]]:
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while True:
        batch = client.batches.retrieve(batch_id)
        if not seen or seen[-1] != batch.status:
            seen.append(batch.status)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch, seen
        assert time.monotonic() < deadline, f"batch stuck in {batch.status}"
        time.sleep(0.005)


def create(client: openai.OpenAI, lines: list[str]) -> Any:
    data = ("\n".join(lines) + "\n").encode()
    input_file = client.files.create(file=("in.jsonl", data), purpose="batch")
    return client.batches.create(
        input_file_id=input_file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )


def test_batch_answers_every_line_through_the_chat_function(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    server.set_chat(lambda body: "answer to " + body["messages"][-1]["content"])
    lines = [
        batch_line(
            f"user-{i}",
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"q{i}"}]},
        )
        for i in range(5)
    ]
    lines.append(batch_line("broken", {"model": "gpt-4o-mini"}))  # no messages: an error line
    batch = create(client, lines)
    assert batch.status == "validating"
    done, seen = follow(client, batch.id)
    assert seen[-1] == "completed"
    assert set(seen) <= {"validating", "in_progress", "finalizing", "completed"}
    assert done.request_counts is not None
    assert (
        done.request_counts.total,
        done.request_counts.completed,
        done.request_counts.failed,
    ) == (6, 5, 1)
    assert done.model == "gpt-4o-mini" and done.completed_at is not None

    assert done.output_file_id is not None and done.error_file_id is not None
    output = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    assert [o["custom_id"] for o in output] == [f"user-{i}" for i in range(5)]
    for i, o in enumerate(output):
        assert o["error"] is None and o["response"]["status_code"] == 200
        body = o["response"]["body"]
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"] == f"answer to q{i}"
    (error_line,) = [
        json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()
    ]
    assert error_line["custom_id"] == "broken"
    assert error_line["response"]["status_code"] == 400
    assert error_line["response"]["body"]["error"]["param"] == "messages"
    assert server.batches[batch.id]["status"] == "completed"
    assert [b.id for b in client.batches.list()] == [batch.id]


def test_malformed_input_fails_the_batch_with_errors(client: openai.OpenAI) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    batch = create(client, [batch_line("a", body), batch_line("a", body), "not json"])
    done, seen = follow(client, batch.id)
    assert seen[-1] == "failed"
    assert done.errors is not None and done.errors.data is not None
    codes = [(e.code, e.line) for e in done.errors.data]
    assert codes == [("duplicate_custom_id", 2), ("invalid_json", 3)]
    assert done.output_file_id is None


def test_create_rejects_other_endpoints_and_files(client: openai.OpenAI) -> None:
    tune = client.files.create(file=("t.jsonl", b"{}\n"), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.batches.create(
            input_file_id=tune.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        client.batches.create(
            input_file_id=tune.id, endpoint="/v1/embeddings", completion_window="24h"
        )


def test_cancel_passes_through_cancelling() -> None:
    srv = LocalOpenAIServer(batch_step_seconds=0.5)
    with srv, openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0) as c:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        batch = create(c, [batch_line("a", body)])
        assert c.batches.cancel(batch.id).status == "cancelling"
        done, seen = follow(c, batch.id)
        assert seen == ["cancelling", "cancelled"]
        assert done.output_file_id is None
        with pytest.raises(openai.BadRequestError):
            c.batches.cancel(batch.id)
