"""Fine-tuning jobs on the local server: lifecycle, events, checkpoints, failures, listing."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from llmrec.testing import LocalOpenAIServer

MODEL = "gpt-4o-mini-2024-07-18"


def chat_lines(n: int) -> bytes:
    lines = [
        {
            "messages": [
                {"role": "system", "content": "Recommend movies."},
                {"role": "user", "content": f"I liked movie number {i}"},
                {"role": "assistant", "content": "1. Heat (1995)\n2. Ronin (1998)"},
            ]
        }
        for i in range(n)
    ]
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


def whitespace_token_total(content: bytes) -> int:
    """Brute-force reference: whitespace words of every message's content."""
    total = 0
    for line in content.decode().splitlines():
        for message in json.loads(line)["messages"]:
            total += len(message["content"].split())
    return total


def follow(client: openai.OpenAI, job_id: str, limit: float = 20.0) -> tuple[Any, list[str]]:
    seen: list[str] = []
    deadline = time.monotonic() + limit
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if not seen or seen[-1] != job.status:
            seen.append(job.status)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job, seen
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck in {job.status}")
        time.sleep(0.005)


def upload(client: openai.OpenAI, content: bytes) -> str:
    return client.files.create(file=("train.jsonl", content), purpose="fine-tune").id


def test_job_walks_through_its_statuses_to_a_model(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    content = chat_lines(12)
    training = upload(client, content)
    hyper = {"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 1.0}
    method: Any = {"type": "supervised", "supervised": {"hyperparameters": hyper}}
    job = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=training,
        seed=11,
        method=method,
    )
    assert job.status == "validating_files" and job.id.startswith("ftjob-")
    assert job.seed == 11
    assert job.method is not None and job.method.supervised is not None
    assert job.method.supervised.hyperparameters is not None
    assert job.method.supervised.hyperparameters.n_epochs == 3
    done, seen = follow(client, job.id)
    assert seen[-1] == "succeeded"
    assert set(seen) <= {"validating_files", "queued", "running", "succeeded"}
    assert done.fine_tuned_model == f"ft:{MODEL}:llmrec-local::{job.id[-8:]}"
    assert done.trained_tokens == 3 * whitespace_token_total(content)
    assert done.finished_at is not None and done.result_files
    assert client.files.content(done.result_files[0]).read().startswith(b"step,train_loss")

    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert [c.step_number for c in checkpoints] == [9, 6, 3]  # newest first, 12/4 steps/epoch
    assert all(c.fine_tuned_model_checkpoint.startswith(done.fine_tuned_model) for c in checkpoints)

    events = list(client.fine_tuning.jobs.list_events(job.id))
    messages = [e.message for e in reversed(events)]
    assert messages[0] == f"Created fine-tuning job: {job.id}"
    assert messages[-1] == "The job has successfully completed"
    assert sum("Checkpoint created" in m for m in messages) == 3
    page = client.fine_tuning.jobs.list_events(job.id, limit=2)
    assert len(page.data) == 2 and page.has_more
    after = client.fine_tuning.jobs.list_events(job.id, after=page.data[-1].id, limit=100)
    assert [e.id for e in page.data] + [e.id for e in after.data] == [e.id for e in events]
    assert server.jobs[job.id]["status"] == "succeeded"


def test_legacy_hyperparameters_and_suffix_are_honoured(client: openai.OpenAI) -> None:
    training = upload(client, chat_lines(10))
    job = client.fine_tuning.jobs.create(
        model=MODEL, training_file=training, suffix="netflix", hyperparameters={"n_epochs": 1}
    )
    assert job.hyperparameters.n_epochs == 1
    done, _ = follow(client, job.id)
    assert done.fine_tuned_model == f"ft:{MODEL}:llmrec-local:netflix:{job.id[-8:]}"


def test_invalid_training_file_fails_the_job(client: openai.OpenAI) -> None:
    training = upload(client, chat_lines(3))
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training)
    done, seen = follow(client, job.id)
    assert seen[-1] == "failed"
    assert done.error is not None and done.error.code == "invalid_training_file"
    assert "at least 10" in done.error.message


def test_create_rejects_missing_files_and_bad_settings(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="training_file"):
        client.fine_tuning.jobs.create(model=MODEL, training_file="file-missing")
    batch_file = client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch").id
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.fine_tuning.jobs.create(model=MODEL, training_file=batch_file)
    training = upload(client, chat_lines(10))
    with pytest.raises(openai.BadRequestError, match="n_epochs"):
        client.fine_tuning.jobs.create(
            model=MODEL, training_file=training, hyperparameters={"n_epochs": 0}
        )


def test_fail_job_and_succeed_job_with(server: LocalOpenAIServer, client: openai.OpenAI) -> None:
    training = upload(client, chat_lines(10))
    server.fail_job(error="Training diverged", code="training_error")
    failed, _ = follow(
        client, client.fine_tuning.jobs.create(model=MODEL, training_file=training).id
    )
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.message == "Training diverged"

    server.succeed_job_with(fine_tuned_model="ft:custom", trained_tokens=1234)
    done, _ = follow(client, client.fine_tuning.jobs.create(model=MODEL, training_file=training).id)
    assert (done.fine_tuned_model, done.trained_tokens) == ("ft:custom", 1234)


def test_cancel_ends_the_job_and_a_second_cancel_is_refused(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    slow = LocalOpenAIServer(fine_tune_step_seconds=60)
    with slow, openai.OpenAI(base_url=slow.base_url, api_key="k", max_retries=0) as c:
        job = c.fine_tuning.jobs.create(model=MODEL, training_file=upload(c, chat_lines(10)))
        cancelled = c.fine_tuning.jobs.cancel(job.id)
        assert cancelled.status == "cancelled"
        assert c.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
        with pytest.raises(openai.BadRequestError):
            c.fine_tuning.jobs.cancel(job.id)
        with pytest.raises(ValueError, match="already ended"):
            slow.fail_job(job.id)


def test_listing_pages_newest_first(client: openai.OpenAI) -> None:
    training = upload(client, chat_lines(10))
    ids = [client.fine_tuning.jobs.create(model=MODEL, training_file=training).id for _ in range(3)]
    page = client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in page.data] == [ids[2], ids[1]] and page.has_more
    assert [j.id for j in client.fine_tuning.jobs.list(limit=2)] == ids[::-1]
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-missing")


def test_fail_and_override_a_given_running_job() -> None:
    srv = LocalOpenAIServer(fine_tune_step_seconds=0.2)
    with srv, openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0) as c:
        training = upload(c, chat_lines(10))
        doomed = c.fine_tuning.jobs.create(model=MODEL, training_file=training)
        renamed = c.fine_tuning.jobs.create(model=MODEL, training_file=training)
        srv.fail_job(doomed.id, error="Out of capacity", code="capacity")
        srv.succeed_job_with(job_id=renamed.id, fine_tuned_model="ft:renamed")
        failed, seen = follow(c, doomed.id)
        assert seen[-1] == "failed"
        events = [e.message for e in c.fine_tuning.jobs.list_events(doomed.id)]
        assert events[0] == "The job failed: Out of capacity"
        assert "Fine-tuning job started" in events  # it failed where it would have succeeded
        assert failed.error is not None
        assert (failed.error.message, failed.error.code) == ("Out of capacity", "capacity")
        done, _ = follow(c, renamed.id)
        assert done.fine_tuned_model == "ft:renamed"
        assert done.trained_tokens == 3 * whitespace_token_total(chat_lines(10))  # "auto": 3 epochs
