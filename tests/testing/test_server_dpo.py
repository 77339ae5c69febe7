"""DPO jobs on the local server: the method's shape, the preference file, and chat files refused."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from llmrec.testing import LocalOpenAIServer

MODEL = "gpt-4.1-nano-2025-04-14"


def preference_lines(n: int) -> bytes:
    lines = [
        {
            "input": {"messages": [{"role": "user", "content": f"I liked movie number {i}"}]},
            "preferred_output": [{"role": "assistant", "content": "1. Heat (1995)"}],
            "non_preferred_output": [{"role": "assistant", "content": "1. Titanic (1997) again"}],
        }
        for i in range(n)
    ]
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


def chat_lines(n: int) -> bytes:
    lines = [
        {
            "messages": [
                {"role": "user", "content": f"I liked movie number {i}"},
                {"role": "assistant", "content": "1. Heat (1995)"},
            ]
        }
        for i in range(n)
    ]
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


def upload(client: openai.OpenAI, content: bytes) -> str:
    return client.files.create(file=("train.jsonl", content), purpose="fine-tune").id


def finish(client: openai.OpenAI, job_id: str) -> Any:
    deadline = time.monotonic() + 20
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck in {job.status}")
        time.sleep(0.005)


def dpo(**hyper: Any) -> Any:
    return {"type": "dpo", "dpo": {"hyperparameters": hyper}}


def test_dpo_job_succeeds_on_a_preference_file(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    content = preference_lines(12)
    job = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=upload(client, content),
        method=dpo(beta=0.3, n_epochs=2, batch_size=4),
    )
    assert job.method is not None and job.method.type == "dpo"
    assert job.method.dpo is not None and job.method.dpo.hyperparameters is not None
    assert job.method.dpo.hyperparameters.beta == 0.3
    assert job.method.dpo.hyperparameters.n_epochs == 2
    done = finish(client, job.id)
    assert done.status == "succeeded"
    # whitespace words of the input and both outputs, per line, times the epochs
    per_line = [len(f"I liked movie number {i}".split()) + 3 + 4 for i in range(12)]
    assert done.trained_tokens == 2 * sum(per_line)


def test_chat_file_given_for_dpo_fails_the_job(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    job = client.fine_tuning.jobs.create(
        model=MODEL, training_file=upload(client, chat_lines(12)), method=dpo()
    )
    done = finish(client, job.id)
    assert done.status == "failed"
    assert done.error is not None and done.error.code == "invalid_training_file"
    assert 'Line 1, key "input" is missing' in done.error.message
    assert "chat file" in done.error.message


def test_preference_file_given_for_supervised_fails_the_job(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    job = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=upload(client, preference_lines(12)),
        method={"type": "supervised", "supervised": {}},
    )
    done = finish(client, job.id)
    assert done.status == "failed" and done.error is not None
    assert 'key "messages" is missing' in done.error.message


def test_broken_preference_line_and_too_few_examples_fail(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    lines = preference_lines(12).decode().splitlines()
    broken = json.loads(lines[4])
    broken["non_preferred_output"] = [{"role": "user", "content": "x"}]
    lines[4] = json.dumps(broken)
    job = client.fine_tuning.jobs.create(
        model=MODEL, training_file=upload(client, "\n".join(lines).encode()), method=dpo()
    )
    error = finish(client, job.id).error
    assert 'Line 5, key "non_preferred_output"' in error.message
    job = client.fine_tuning.jobs.create(
        model=MODEL, training_file=upload(client, preference_lines(3)), method=dpo()
    )
    assert "at least 10" in finish(client, job.id).error.message


@pytest.mark.parametrize(
    ("method", "param"),
    [
        (dpo(beta=0), "method.dpo.hyperparameters.beta"),
        (dpo(beta=2.5), "method.dpo.hyperparameters.beta"),
        (dpo(beta="high"), "method.dpo.hyperparameters.beta"),
        (dpo(n_epochs=0), "hyperparameters.n_epochs"),
        ({"type": "reinforcement"}, "method"),
        ({"type": "dpo", "dpo": 5}, "method.dpo"),
    ],
)
def test_bad_method_is_a_400_naming_the_parameter(
    server: LocalOpenAIServer, client: openai.OpenAI, method: Any, param: str
) -> None:
    training = upload(client, preference_lines(12))
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(model=MODEL, training_file=training, method=method)
    assert isinstance(info.value.body, dict) and info.value.body.get("param") == param
    assert server.jobs == {}
