"""``FineTuner`` against the local OpenAI-compatible server, through the official SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from llmrec.errors import BackendError, BudgetExceededError, ConfigError, ValidationError
from llmrec.finetune import FineTuner, RunManifest, estimate_training_cost
from llmrec.testing import LocalOpenAIServer

MODEL = "gpt-4o-mini-2024-07-18"
TRAINING_PRICE = 3.00  # USD per 1M training tokens of gpt-4o-mini-2024-07-18


def write_chat_jsonl(path: Path, n: int, *, start: int = 0) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(start, start + n):
            example = {
                "messages": [
                    {"role": "system", "content": "Recommend ten movies the user will like."},
                    {"role": "user", "content": f"My favourite movies: Heat (1995), Film {i}"},
                    {"role": "assistant", "content": "1. Ronin (1998)\n2. Collateral (2004)"},
                ]
            }
            fh.write(json.dumps(example) + "\n")
    return path


@pytest.fixture
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(fine_tune_step_seconds=0.03) as srv:
        yield srv


@pytest.fixture
def client(server: LocalOpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-secret-test", max_retries=3) as c:
        yield c


@pytest.fixture
def train(tmp_path: Path) -> Path:
    return write_chat_jsonl(tmp_path / "train.jsonl", 12)


def tuner(client: openai.OpenAI, manifest: Path) -> FineTuner:
    return FineTuner(client, manifest=manifest, progress=False, poll_interval=0.01)


def posts(server: LocalOpenAIServer, path: str) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path == path)


def test_whole_run_from_file_to_fine_tuned_model(
    server: LocalOpenAIServer, client: openai.OpenAI, train: Path, tmp_path: Path
) -> None:
    validation = write_chat_jsonl(tmp_path / "val.jsonl", 10, start=100)
    manifest_path = tmp_path / "run" / "manifest.json"
    ft = tuner(client, manifest_path)
    started = ft.start(train, validation_file=validation, suffix="netflix", seed=5)
    assert started.job_id is not None and started.status == "validating_files"

    state = ft.wait()
    assert state.done and state.status == "succeeded"
    assert state.fine_tuned_model == f"ft:{MODEL}:llmrec-local:netflix:{started.job_id[-8:]}"
    server_job = server.jobs[started.job_id]
    assert state.trained_tokens == server_job["trained_tokens"]
    assert state.trained_tokens is not None and state.trained_tokens > 0
    assert state.billed_cost_usd == pytest.approx(state.trained_tokens * TRAINING_PRICE / 1e6)
    expected = estimate_training_cost(train, model=MODEL, n_epochs=2)
    assert state.estimated_cost_usd == pytest.approx(expected.usd)

    manifest = RunManifest.load(manifest_path)
    assert manifest.job_id == started.job_id
    assert manifest.fine_tuned_model == state.fine_tuned_model
    assert [s.status for s in manifest.status_history][-1] == "succeeded"
    assert manifest.status_history[0].status == "validating_files"
    assert len(manifest.checkpoints) == 2  # one per epoch
    assert manifest.events[0].message.startswith("Created fine-tuning job")
    assert manifest.events[-1].message == "The job has successfully completed"
    assert len({e.id for e in manifest.events}) == len(manifest.events)
    assert manifest.training.file_id == server_job["training_file"]
    assert manifest.validation is not None
    assert manifest.validation.file_id == server_job["validation_file"]
    assert manifest.config.batch_size == 32 and manifest.config.seed == 5
    assert "sk-secret-test" not in manifest_path.read_text()

    (create,) = [r for r in server.requests if r.path == "/v1/fine_tuning/jobs"]
    assert isinstance(create.body, dict)
    assert create.body["method"] == {
        "type": "supervised",
        "supervised": {
            "hyperparameters": {"n_epochs": 2, "batch_size": 32, "learning_rate_multiplier": 1.0}
        },
    }
    assert (create.body["suffix"], create.body["seed"]) == ("netflix", 5)
    assert all(r.headers["authorization"] == "Bearer sk-secret-test" for r in server.requests)
    uploads = [r for r in server.requests if r.path == "/v1/files"]
    assert len(uploads) == 2
    assert all(isinstance(u.body, bytes) and b'name="purpose"' in u.body for u in uploads)
    assert all(isinstance(u.body, bytes) and b"fine-tune" in u.body for u in uploads)


def test_budget_cap_refuses_before_any_request(
    server: LocalOpenAIServer, client: openai.OpenAI, train: Path, tmp_path: Path
) -> None:
    estimate = estimate_training_cost(train, model=MODEL, n_epochs=2)
    cap = estimate.usd / 2
    with pytest.raises(BudgetExceededError) as info:
        tuner(client, tmp_path / "m.json").start(train, max_cost_usd=cap)
    assert 0 < cap < estimate.usd < 0.01  # so both are shown with two significant digits
    assert f"estimated at {estimate.usd:.2g} USD" in str(info.value)
    assert f"budget of {cap:.2g} USD" in str(info.value)
    assert server.requests == []
    assert not (tmp_path / "m.json").exists()
    # at the estimate itself the run is allowed
    assert tuner(client, tmp_path / "m.json").start(train, max_cost_usd=estimate.usd).job_id


def test_invalid_file_is_refused_before_any_request(
    server: LocalOpenAIServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    short = write_chat_jsonl(tmp_path / "short.jsonl", 3)
    with pytest.raises(ValidationError, match="too_few_examples"):
        tuner(client, tmp_path / "m.json").start(short)
    assert server.requests == []


def test_wait_with_timeout_returns_early_and_a_new_tuner_resumes(
    tmp_path: Path, train: Path
) -> None:
    with (
        LocalOpenAIServer(fine_tune_step_seconds=0.2) as srv,
        openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0) as c,
    ):
        manifest = tmp_path / "m.json"
        first = tuner(c, manifest)
        first.start(train)
        early = first.wait(timeout=0)
        assert not early.done and early.job_id is not None

        resumed = tuner(c, manifest).wait()  # as a new process would, from the manifest alone
        assert resumed.status == "succeeded" and resumed.job_id == early.job_id
        assert posts(srv, "/v1/files") == 1
        assert posts(srv, "/v1/fine_tuning/jobs") == 1
        # starting again with the same files and settings changes nothing
        again = tuner(c, manifest).start(train)
        assert again.fine_tuned_model == resumed.fine_tuned_model
        assert posts(srv, "/v1/files") == 1 and posts(srv, "/v1/fine_tuning/jobs") == 1


def test_crash_after_upload_reuses_the_uploaded_file(
    server: LocalOpenAIServer, client: openai.OpenAI, train: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.json"
    server.fail_next(1, status=400, retry_after=None, path_prefix="/v1/fine_tuning/jobs")
    with pytest.raises(openai.BadRequestError):
        tuner(client, manifest).start(train)
    saved = RunManifest.load(manifest)
    assert saved.training.file_id is not None and saved.job_id is None

    state = tuner(client, manifest).start(train)
    assert state.job_id is not None
    assert posts(server, "/v1/files") == 1  # not uploaded twice
    assert server.jobs[state.job_id]["training_file"] == saved.training.file_id


def test_crash_after_job_creation_adopts_the_job(
    server: LocalOpenAIServer, client: openai.OpenAI, train: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.json"
    server.fail_next(1, status=400, retry_after=None, path_prefix="/v1/fine_tuning/jobs")
    with pytest.raises(openai.BadRequestError):
        tuner(client, manifest).start(train)
    file_id = RunManifest.load(manifest).training.file_id
    assert file_id is not None
    # the job was created but its id never reached the manifest
    orphan = client.fine_tuning.jobs.create(model=MODEL, training_file=file_id)

    state = tuner(client, manifest).start(train)
    assert state.job_id == orphan.id
    assert posts(server, "/v1/fine_tuning/jobs") == 2  # the failed try and the orphan only


def test_changed_file_or_settings_need_a_new_manifest(
    client: openai.OpenAI, train: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.json"
    tuner(client, manifest).start(train)
    with pytest.raises(ConfigError, match="new manifest"):
        tuner(client, manifest).start(train, n_epochs=3)
    write_chat_jsonl(train, 11)
    with pytest.raises(ConfigError, match="new manifest"):
        tuner(client, manifest).start(train)


def test_failed_job_raises_with_its_error_after_recording_it(
    server: LocalOpenAIServer, client: openai.OpenAI, train: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.json"
    server.fail_job(error="Training loss diverged", code="training_error")
    ft = tuner(client, manifest)
    ft.start(train)
    with pytest.raises(BackendError, match="Training loss diverged"):
        ft.wait()
    saved = RunManifest.load(manifest)
    assert saved.status == "failed" and saved.error is not None
    assert "Training loss diverged" in saved.error and "training_error" in saved.error
    assert ft.status().status == "failed"  # status() reports without raising
    with pytest.raises(ConfigError, match="ended failed"):
        ft.start(train)


def test_rate_limits_and_server_errors_while_polling_are_retried(
    server: LocalOpenAIServer, client: openai.OpenAI, train: Path, tmp_path: Path
) -> None:
    ft = tuner(client, tmp_path / "m.json")
    ft.start(train)
    server.fail_next(2, status=500, retry_after=0.01, path_prefix="/v1/fine_tuning/jobs/")
    server.fail_next(1, status=429, retry_after=0.01, path_prefix="/v1/fine_tuning/jobs/")
    state = ft.wait()
    assert state.status == "succeeded"
    assert [r.status for r in server.requests if r.status in (429, 500)] == [500, 500, 429]


def test_random_failures_on_every_polled_endpoint_are_retried(
    server: LocalOpenAIServer, client: openai.OpenAI, train: Path, tmp_path: Path
) -> None:
    ft = tuner(client, tmp_path / "m.json")
    ft.start(train)
    server.fail_randomly(
        1.0, statuses=(429, 500), seed=3, retry_after=0.01, path_prefix="/v1/fine_tuning/jobs/"
    )
    assert ft.wait().status == "succeeded"
    failed_paths = [r.path for r in server.requests if r.status in (429, 500)]
    # each distinct request (retrieve, events, checkpoints) failed exactly once
    assert sorted(failed_paths) == sorted(set(failed_paths)) and len(failed_paths) == 3


def test_cancel_records_the_cancelled_status(tmp_path: Path, train: Path) -> None:
    with (
        LocalOpenAIServer(fine_tune_step_seconds=30) as srv,
        openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0) as c,
    ):
        ft = tuner(c, tmp_path / "m.json")
        ft.start(train)
        state = ft.cancel()
        assert state.status == "cancelled" and state.done
        assert ft.wait().status == "cancelled"
        history = [s.status for s in RunManifest.load(tmp_path / "m.json").status_history]
        assert history == ["validating_files", "cancelled"]


def test_following_without_a_job_is_a_clear_error(client: openai.OpenAI, tmp_path: Path) -> None:
    from llmrec.errors import DataFormatError

    with pytest.raises(DataFormatError, match="manifest not found"):
        tuner(client, tmp_path / "missing.json").wait()
