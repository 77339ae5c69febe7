"""The budget covers the whole run, whatever ``base_url`` is; prices and free servers are said
in the config; unknown costs need an explicit opt-in (issue 11, items 1 and 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.errors import BudgetExceededError, ConfigError
from llmrec.experiment import ExperimentConfig, run
from llmrec.testing import LocalOpenAIServer

DATA = {"kind": "synthetic", "n_users": 800, "n_movies": 200, "n_ratings": 30_000, "seed": 5}
QWEN = "Qwen/Qwen2.5-7B-Instruct"


def _config(base_url: str | None, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "data": DATA,
        "truth": {
            "a": {"n_users": 60, "neighbour_min_rating": 5, "watch_factor": 0.5},
            "b": {"n_users": 60, "neighbour_min_rating": 4, "watch_factor": 0.6},
        },
        "truth_replace": True,
        "n_bootstrap": 20,
        "base_url": base_url,
        "backends": [
            {"name": "popularity"},
            {"name": "openai-zero-shot", "label": "zero-shot"},
        ],
    }
    cfg.update(extra)
    return cfg


def _chat_requests(srv: LocalOpenAIServer) -> int:
    return sum(r.path.endswith("/chat/completions") for r in srv.requests)


def _paid_lines(result: Any) -> list[Any]:
    return [line for line in result.plan if line.will_run]


def test_the_budget_is_checked_when_base_url_is_set(tmp_path: Path) -> None:
    # base_url alone says nothing about the price: OpenAI itself has one
    with LocalOpenAIServer() as srv:
        cfg = ExperimentConfig.model_validate(_config(srv.base_url, budget_usd=1e-9))
        with pytest.raises(BudgetExceededError, match=r"budget_usd"):
            run(cfg, tmp_path / "out", progress=False)
        assert _chat_requests(srv) == 0


def test_the_budget_is_for_the_whole_run_not_per_step(tmp_path: Path) -> None:
    with LocalOpenAIServer() as srv:
        plan = run(
            ExperimentConfig.model_validate(_config(srv.base_url)),
            tmp_path / "dry",
            progress=False,
            dry_run=True,
        )
        # the check prices the worst case: every answer at its max_tokens cap
        costs = [line.worst_usd for line in _paid_lines(plan)]
        assert len(costs) == 2 and all(c is not None and c > 0 for c in costs)
        # each step fits the budget alone; together they do not
        budget = max(costs) * 1.01
        assert budget < sum(costs)
        cfg = ExperimentConfig.model_validate(_config(srv.base_url, budget_usd=budget))
        with pytest.raises(BudgetExceededError, match=r"in total") as info:
            run(cfg, tmp_path / "out", progress=False)
        assert _chat_requests(srv) == 0
        assert "zero-shot on a" in str(info.value) and "zero-shot on b" in str(info.value)
        # the budget that covers the total runs everything
        cfg = ExperimentConfig.model_validate(_config(srv.base_url, budget_usd=sum(costs) * 1.01))
        run(cfg, tmp_path / "out", progress=False)
        assert _chat_requests(srv) > 0


def test_a_server_marked_free_costs_nothing(tmp_path: Path) -> None:
    with LocalOpenAIServer() as srv:
        cfg = ExperimentConfig.model_validate(_config(srv.base_url, budget_usd=0.0, free=True))
        result = run(cfg, tmp_path / "out", progress=False)
        assert _chat_requests(srv) > 0
        lines = _paid_lines(result)
        assert lines and all(line.usd == 0.0 for line in lines)
        assert all(line.input_tokens > 0 for line in lines)  # tokens are still counted


def test_free_per_backend(tmp_path: Path) -> None:
    with LocalOpenAIServer() as srv:
        backends = [
            {"name": "popularity"},
            {
                "name": "openai-zero-shot",
                "config": {"base_url": srv.base_url, "free": True, "api_key_optional": True},
            },
        ]
        cfg = ExperimentConfig.model_validate(
            _config(None, budget_usd=0.0, backends=backends, truth={"a": {"n_users": 60}})
        )
        result = run(cfg, tmp_path / "out", progress=False)
        assert [line.usd for line in _paid_lines(result)] == [0.0]
        assert _chat_requests(srv) > 0


def test_unknown_cost_needs_an_explicit_opt_in(tmp_path: Path) -> None:
    backends = [
        {"name": "popularity"},
        {"name": "openai-zero-shot", "label": "qwen", "config": {"model": QWEN}},
    ]
    with LocalOpenAIServer() as srv:
        cfg = ExperimentConfig.model_validate(_config(srv.base_url, backends=backends))
        with pytest.raises(BudgetExceededError, match=r"allow_unknown_cost = true") as info:
            run(cfg, tmp_path / "out", progress=False)
        assert "--allow-unknown-cost" in str(info.value) and QWEN in str(info.value)
        assert _chat_requests(srv) == 0
        cfg = ExperimentConfig.model_validate(
            _config(srv.base_url, backends=backends, allow_unknown_cost=True)
        )
        result = run(cfg, tmp_path / "out", progress=False)
        assert [line.usd for line in _paid_lines(result)] == [None, None]
        assert _chat_requests(srv) > 0
        assert "unknown" in str(_paid_lines(result)[0])


def test_an_unpriced_model_on_a_free_server_needs_no_opt_in(tmp_path: Path) -> None:
    backends = [{"name": "popularity"}, {"name": "openai-zero-shot", "config": {"model": QWEN}}]
    with LocalOpenAIServer() as srv:
        cfg = ExperimentConfig.model_validate(
            _config(srv.base_url, backends=backends, free=True, budget_usd=0.0)
        )
        result = run(cfg, tmp_path / "out", progress=False)
        assert [line.usd for line in _paid_lines(result)] == [0.0, 0.0]


def test_prices_from_a_toml_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-sent")
    toml = tmp_path / "study.toml"
    toml.write_text(
        f"""
budget_usd = 100.0
truth_replace = true

[data]
kind = "synthetic"
n_users = 800
n_movies = 200
n_ratings = 30000
seed = 5

[truth.a]
n_users = 60

[[backends]]
name = "popularity"

[[backends]]
name = "openai-zero-shot"
config = {{ model = "{QWEN}" }}

[prices."{QWEN}"]
input = 1.0
output = 2.0
"""
    )
    cfg = ExperimentConfig.from_file(toml)
    result = run(cfg, tmp_path / "out", progress=False, dry_run=True)
    (line,) = _paid_lines(result)
    assert line.usd == pytest.approx((line.input_tokens * 1.0 + line.output_tokens * 2.0) / 1e6)
    # the default table is kept for every other model
    assert cfg.price_table().models["gpt-4o-mini-2024-07-18"].input == 0.15
    bad = tmp_path / "bad.toml"
    bad.write_text(toml.read_text().replace("input = 1.0", "input = -1.0"))
    with pytest.raises(ConfigError, match=r"prices"):
        ExperimentConfig.from_file(bad)


def test_cli_flag_allows_unknown_cost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backends = [{"name": "popularity"}, {"name": "openai-zero-shot", "config": {"model": QWEN}}]
    with LocalOpenAIServer() as srv:
        path = tmp_path / "study.json"
        path.write_text(json.dumps(_config(srv.base_url, backends=backends)))
        out = tmp_path / "out"
        assert main(["reproduce", str(path), "--out", str(out), "--quiet"]) != 0
        assert "--allow-unknown-cost" in capsys.readouterr().err
        assert _chat_requests(srv) == 0
        args = ["reproduce", str(path), "--out", str(out), "--quiet", "--allow-unknown-cost"]
        assert main(args) == 0
        assert _chat_requests(srv) > 0
    assert "unknown USD" in capsys.readouterr().out


def test_a_fine_tuning_job_counts_towards_the_total(tmp_path: Path) -> None:
    with LocalOpenAIServer(fine_tune_step_seconds=0.02) as srv:
        extra = {
            "finetune": {"enabled": True, "poll_interval": 0.02},
            "truth": {"a": {"n_users": 60}},
            "truth_replace": True,
        }
        plan = run(
            ExperimentConfig.model_validate(_config(srv.base_url, **extra)),
            tmp_path / "dry",
            progress=False,
            dry_run=True,
        )
        training = [line for line in _paid_lines(plan) if line.kind == "training"]
        assert len(training) == 1 and training[0].usd is not None and training[0].usd > 0
        # enough for the training alone, not for training plus inference
        budget = training[0].usd * 1.001
        cfg = ExperimentConfig.model_validate(_config(srv.base_url, budget_usd=budget, **extra))
        with pytest.raises(BudgetExceededError, match=r"in total"):
            run(cfg, tmp_path / "out", progress=False)
        assert srv.requests == []  # no upload, no job, no chat


def test_free_needs_a_server_of_ones_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    cfg = ExperimentConfig.model_validate(_config(None, free=True))
    with pytest.raises(ConfigError, match=r"free = true .*api\.openai\.com"):
        run(cfg, tmp_path / "out", progress=False, dry_run=True)


def test_an_unpriced_fine_tuning_model_is_an_unknown_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # OpenAI documents its example limit, llmrec's table has no training price for it
    model = "gpt-4o-2024-08-06"
    with LocalOpenAIServer(fine_tune_step_seconds=0.02) as srv:
        extra = {
            "finetune": {"enabled": True, "poll_interval": 0.02, "model": model},
            "truth": {"a": {"n_users": 60}},
            "truth_replace": True,
            "backends": [{"name": "popularity"}],
        }
        path = tmp_path / "study.json"
        path.write_text(json.dumps(_config(srv.base_url, **extra)))
        out = tmp_path / "out"
        assert main(["reproduce", str(path), "--out", str(out), "--quiet"]) != 0
        assert "allow_unknown_cost" in capsys.readouterr().err
        assert srv.requests == []
        args = ["reproduce", str(path), "--out", str(out), "--quiet", "--allow-unknown-cost"]
        assert main(args) == 0
        printed = capsys.readouterr().out
        assert f"fine-tune {model} on a" in printed and "unknown USD" in printed
        assert "unknown" in (out / "report.md").read_text()
