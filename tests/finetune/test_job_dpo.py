"""Hosted DPO jobs: ``FineTuner.start(method="dpo")`` against the local server, official SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from llmrec.errors import ConfigError, ValidationError
from llmrec.finetune import DPO_MODELS, FineTuner, RunManifest, estimate_preference_cost
from llmrec.testing import LocalOpenAIServer

MODEL = "gpt-4.1-mini-2025-04-14"


def write_preferences(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            example = {
                "input": {
                    "messages": [
                        {"role": "system", "content": "Recommend movies."},
                        {"role": "user", "content": f"I liked Heat (1995) and film {i}"},
                    ]
                },
                "preferred_output": [{"role": "assistant", "content": "1. Ronin (1998)"}],
                "non_preferred_output": [{"role": "assistant", "content": "1. Titanic (1997)"}],
            }
            fh.write(json.dumps(example) + "\n")
    return path


def write_chat(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            messages = [
                {"role": "user", "content": f"I liked film {i}"},
                {"role": "assistant", "content": "1. Ronin (1998)"},
            ]
            fh.write(json.dumps({"messages": messages}) + "\n")
    return path


@pytest.fixture
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(fine_tune_step_seconds=0.03) as srv:
        yield srv


@pytest.fixture
def client(server: LocalOpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as c:
        yield c


def tuner(client: openai.OpenAI, manifest: Path) -> FineTuner:
    return FineTuner(client, manifest=manifest, progress=False, poll_interval=0.01)


def test_dpo_job_request_carries_the_method_and_hyperparameters(
    server: LocalOpenAIServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    prefs = write_preferences(tmp_path / "prefs.jsonl", 12)
    manifest_path = tmp_path / "run.json"
    ft = tuner(client, manifest_path)
    started = ft.start(
        prefs, model=MODEL, method="dpo", beta=0.25, n_epochs=3, batch_size=4, seed=1
    )
    creates = [
        r for r in server.requests if r.method == "POST" and r.path == "/v1/fine_tuning/jobs"
    ]
    assert len(creates) == 1
    body = creates[0].body
    assert isinstance(body, dict)
    assert body["model"] == MODEL
    assert body["method"] == {
        "type": "dpo",
        "dpo": {
            "hyperparameters": {
                "n_epochs": 3,
                "batch_size": 4,
                "learning_rate_multiplier": 1.0,
                "beta": 0.25,
            }
        },
    }
    job = client.fine_tuning.jobs.retrieve(str(started.job_id))
    assert job.method is not None and job.method.type == "dpo"
    assert job.method.dpo is not None and job.method.dpo.hyperparameters is not None
    assert job.method.dpo.hyperparameters.beta == 0.25

    state = ft.wait()
    assert state.status == "succeeded" and state.fine_tuned_model
    manifest = RunManifest.load(manifest_path)
    assert manifest.config.method == "dpo" and manifest.config.beta == 0.25
    saved = json.loads(manifest_path.read_text())
    assert saved["config"]["method"] == "dpo"
    assert state.estimated_cost_usd == pytest.approx(
        estimate_preference_cost(prefs, model=MODEL, n_epochs=3).usd
    )


def test_beta_left_out_is_auto(
    server: LocalOpenAIServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    prefs = write_preferences(tmp_path / "prefs.jsonl", 10)
    state = tuner(client, tmp_path / "run.json").start(prefs, model=DPO_MODELS[2], method="dpo")
    body = next(r.body for r in server.requests if r.path == "/v1/fine_tuning/jobs")
    assert isinstance(body, dict)
    assert "beta" not in body["method"]["dpo"]["hyperparameters"]
    assert server.jobs[str(state.job_id)]["method"]["dpo"]["hyperparameters"]["beta"] == 0.1


@pytest.mark.parametrize("model", ["gpt-4o-mini-2024-07-18", "gpt-4.1-2025-01-01", "o4-mini"])
def test_ineligible_model_is_refused_before_any_request(
    server: LocalOpenAIServer, client: openai.OpenAI, tmp_path: Path, model: str
) -> None:
    prefs = write_preferences(tmp_path / "prefs.jsonl", 12)
    manifest_path = tmp_path / "run.json"
    with pytest.raises(
        ConfigError, match=r"only for gpt-4\.1-2025-04-14.*allow_unlisted_dpo_model"
    ):
        tuner(client, manifest_path).start(prefs, model=model, method="dpo")
    assert server.requests == []
    assert not manifest_path.exists()


def test_override_lets_an_unlisted_model_through(
    server: LocalOpenAIServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    prefs = write_preferences(tmp_path / "prefs.jsonl", 12)
    state = tuner(client, tmp_path / "run.json").start(
        prefs,
        model="gpt-4o-mini-2024-07-18",
        method="dpo",
        allow_unlisted_dpo_model=True,
    )
    assert server.jobs[str(state.job_id)]["method"]["type"] == "dpo"
    assert len([r for r in server.requests if r.path == "/v1/fine_tuning/jobs"]) == 1


def test_chat_file_for_dpo_is_refused_locally_before_upload(
    server: LocalOpenAIServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    chat = write_chat(tmp_path / "chat.jsonl", 12)
    with pytest.raises(ValidationError, match=r"line 1.*\[missing_input\]"):
        tuner(client, tmp_path / "run.json").start(chat, model=MODEL, method="dpo")
    assert server.requests == []


def test_settings_that_do_not_fit_the_method_are_refused(
    server: LocalOpenAIServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    prefs = write_preferences(tmp_path / "prefs.jsonl", 12)
    ft = tuner(client, tmp_path / "run.json")
    with pytest.raises(ConfigError, match="beta applies to method 'dpo' only"):
        ft.start(prefs, model=MODEL, beta=0.1)
    with pytest.raises(ConfigError, match="beta"):
        ft.start(prefs, model=MODEL, method="dpo", beta=2.5)
    with pytest.raises(ConfigError, match="method must be"):
        ft.start(prefs, model=MODEL, method="rlhf")
    assert server.requests == []


def test_resumed_dpo_run_is_not_created_twice(
    server: LocalOpenAIServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    prefs = write_preferences(tmp_path / "prefs.jsonl", 12)
    manifest_path = tmp_path / "run.json"
    first = tuner(client, manifest_path).start(prefs, model=MODEL, method="dpo", beta=0.5)
    again = tuner(client, manifest_path).start(prefs, model=MODEL, method="dpo", beta=0.5)
    assert again.job_id == first.job_id
    assert len([r for r in server.requests if r.path == "/v1/fine_tuning/jobs"]) == 1
    with pytest.raises(ConfigError, match="other files or settings"):
        tuner(client, manifest_path).start(prefs, model=MODEL, method="dpo", beta=0.2)
