"""``llmrec finetune ...`` end to end: files on disk, the local server as the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmrec.cli import main
from llmrec.errors import APIKeyMissingError
from llmrec.finetune import RunManifest, estimate_training_cost, validate_chat_jsonl
from llmrec.finetune._cli import make_client
from llmrec.testing import LocalOpenAIServer
from llmrec.truth.dataset import Example, ProfileDataset

MODEL = "gpt-4o-mini-2024-07-18"


def write_chat_jsonl(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            example = {
                "messages": [
                    {"role": "system", "content": "Recommend movies."},
                    {"role": "user", "content": f"I liked Heat (1995) and film {i}"},
                    {"role": "assistant", "content": "1. Ronin (1998)"},
                ]
            }
            fh.write(json.dumps(example) + "\n")
    return path


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(fine_tune_step_seconds=0.03) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-test")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        yield srv


def posts(server: LocalOpenAIServer, path: str) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path == path)


def test_validate_reports_findings_with_lines_and_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_chat_jsonl(tmp_path / "good.jsonl", 10)
    assert main(["finetune", "validate", str(good)]) == 0
    assert "valid" in capsys.readouterr().out
    bad = write_chat_jsonl(tmp_path / "bad.jsonl", 10)
    with open(bad, "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    assert main(["finetune", "validate", str(bad), "--model", MODEL]) == 1
    out = capsys.readouterr().out
    assert "line 11" in out and "invalid_json" in out and "invalid" in out


def test_estimate_prints_tokens_and_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write_chat_jsonl(tmp_path / "train.jsonl", 10)
    assert main(["finetune", "estimate", str(train), "--epochs", "3"]) == 0
    out = capsys.readouterr().out.strip()
    expected = estimate_training_cost(train, model=MODEL, n_epochs=3)
    assert out == str(expected)
    assert f"{expected.total_tokens:,} tokens" in out and "USD" in out


def test_start_and_wait_print_the_fine_tuned_model(
    server: LocalOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write_chat_jsonl(tmp_path / "train.jsonl", 12)
    argv = ["finetune", "start", str(train), "--suffix", "cli", "--epochs", "3"]
    assert main([*argv, "--wait", "--poll-interval", "0.01", "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    manifest = RunManifest.load(tmp_path / "finetune-manifest.json")  # default: beside TRAIN
    assert manifest.status == "succeeded" and manifest.config.n_epochs == 3
    assert out[-1] == manifest.fine_tuned_model
    assert manifest.fine_tuned_model is not None and ":cli:" in manifest.fine_tuned_model
    assert server.requests[0].headers["Authorization"] == "Bearer sk-cli-test"


def test_status_wait_and_cancel_read_the_manifest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write_chat_jsonl(tmp_path / "train.jsonl", 10)
    manifest = tmp_path / "runs" / "m.json"
    with LocalOpenAIServer(fine_tune_step_seconds=30) as slow:
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        monkeypatch.setenv("OPENAI_BASE_URL", slow.base_url)
        assert main(["finetune", "start", str(train), "--manifest", str(manifest)]) == 0
        assert f"llmrec finetune wait {manifest}" in capsys.readouterr().out
        assert main(["finetune", "status", str(manifest), "--quiet"]) == 0
        assert "validating_files" in capsys.readouterr().out
        assert main(["finetune", "cancel", str(manifest)]) == 0
        assert "cancelled" in capsys.readouterr().out
        assert main(["finetune", "wait", str(manifest), "--quiet"]) == 1  # ended, but no model
        assert RunManifest.load(manifest).status == "cancelled"


def test_budget_cap_refuses_with_exit_code_1(
    server: LocalOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write_chat_jsonl(tmp_path / "train.jsonl", 10)
    assert main(["finetune", "start", str(train), "--max-cost", "0.000001"]) == 1
    assert "budget" in capsys.readouterr().err
    assert server.requests == []


def test_missing_key_says_how_to_set_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(APIKeyMissingError, match="OPENAI_API_KEY"):
        make_client()
    train = write_chat_jsonl(tmp_path / "train.jsonl", 10)
    assert main(["finetune", "start", str(train)]) == 1
    assert "export OPENAI_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "finetune-manifest.json").exists()


def test_export_writes_a_valid_chat_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    titles = tmp_path / "movie_titles.csv"
    titles.write_text(
        "".join(f"{i},{1990 + i},Movie {i}, the sequel\n" for i in range(1, 31)), encoding="latin-1"
    )
    examples = [
        Example(user_id=u, profile=(u, u + 1, u + 2), gold=(u + 10, u + 11), n_neighbours=5)
        for u in range(1, 13)
    ]
    dataset = ProfileDataset(examples).save(tmp_path / "profiles.jsonl")
    out = tmp_path / "train.jsonl"
    argv = ["finetune", "export", str(dataset), "--out", str(out), "--titles", str(titles)]
    assert main(argv) == 0
    assert "12 examples" in capsys.readouterr().out
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 12
    roles = [m["role"] for m in lines[0]["messages"]]
    assert roles == ["system", "user", "assistant"]
    assert "Movie 11, the sequel (2001)" in lines[0]["messages"][-1]["content"]
    assert "Movie 1, the sequel (1991)" in lines[0]["messages"][1]["content"]
    assert validate_chat_jsonl(out).ok


def test_killed_wait_resumes_without_uploading_or_creating_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    train = write_chat_jsonl(tmp_path / "train.jsonl", 10)
    manifest = tmp_path / "m.json"
    with LocalOpenAIServer(fine_tune_step_seconds=0.5) as srv:
        env = {**os.environ, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": srv.base_url}
        argv = [sys.executable, "-m", "llmrec.cli", "finetune", "start", str(train)]
        argv += ["--manifest", str(manifest), "--wait", "--poll-interval", "0.05", "--quiet"]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not any(r.method == "GET" for r in srv.requests):  # it is following the job
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the CLI never started following the job"
                time.sleep(0.02)
        finally:
            proc.kill()
            proc.communicate(timeout=30)
        assert RunManifest.load(manifest).status != "succeeded"

        monkeypatch.setenv("OPENAI_API_KEY", "k")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        assert main(["finetune", "wait", str(manifest), "--poll-interval", "0.05", "--quiet"]) == 0
        saved = RunManifest.load(manifest)
        assert saved.status == "succeeded" and saved.fine_tuned_model is not None
        assert posts(srv, "/v1/files") == 1
        assert posts(srv, "/v1/fine_tuning/jobs") == 1
        (job,) = srv.jobs.values()
        assert saved.job_id == job["id"]
