"""The budget holds while requests are in flight (issue 26, item 1).

The plan prices each answer at the length of ``k`` titles, but an answer may run to
``max_tokens``. A server that answers about 400 tokens made a run planned at 0.0115 USD under
``budget_usd = 0.012`` spend 0.0321 USD and exit 0. Now each request is priced at its worst case
(output at the ``max_tokens`` cap) before it is sent, what answers cost is added up as they
arrive, and the run stops sending (with :class:`BudgetExceededError`) once the next request
could pass the budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.errors import BudgetExceededError
from llmrec.experiment import ExperimentConfig, run
from llmrec.openai_api.prices import inference_cost
from llmrec.testing import LocalOpenAIServer
from llmrec.testing.openai_server._state import count_message_tokens, whitespace_tokens

DATA = {"kind": "synthetic", "n_users": 800, "n_movies": 200, "n_ratings": 30_000, "seed": 5}
LONG = " ".join(["word"] * 400)  # about 400 completion tokens, the default max_tokens


def _config(base_url: str, **extra: Any) -> ExperimentConfig:
    cfg: dict[str, Any] = {
        "data": DATA,
        "truth": {"a": {"n_users": 60, "neighbour_min_rating": 5, "watch_factor": 0.5}},
        "truth_replace": True,
        "n_bootstrap": 20,
        "base_url": base_url,
        "backends": [{"name": "popularity"}, {"name": "openai-zero-shot", "label": "zero-shot"}],
        **extra,
    }
    return ExperimentConfig.model_validate(cfg)


def _spent(srv: LocalOpenAIServer) -> float:
    """What the server billed: its own usage counts at the model's prices."""
    total = 0.0
    for r in srv.requests:
        if r.path.endswith("/chat/completions") and r.status == 200:
            assert isinstance(r.body, dict)
            prompt = count_message_tokens(r.body["messages"], whitespace_tokens)
            total += inference_cost(r.body["model"], prompt, whitespace_tokens(LONG))
    return total


def test_long_answers_cannot_overspend_the_budget(tmp_path: Path) -> None:
    with LocalOpenAIServer(chat=lambda body: LONG) as srv:
        dry = run(_config(srv.base_url), tmp_path / "dry", progress=False, dry_run=True)
        (line,) = [p for p in dry.plan if p.will_run]
        assert line.usd is not None and line.worst_usd is not None
        assert line.worst_usd > 2 * line.usd  # 400 output tokens against k titles
        budget = line.usd * 0.012 / 0.0115  # the case: planned just under the budget
        with pytest.raises(BudgetExceededError, match="stopped sending") as info:
            run(_config(srv.base_url, budget_usd=budget), tmp_path / "out", progress=False)
        sent = sum(r.path.endswith("/chat/completions") for r in srv.requests)
        assert 0 < sent < line.requests
        assert _spent(srv) <= budget
        message = str(info.value)
        assert "planned" in message and "worst case" in message and "spent" in message
        # what was paid for is kept: a rerun with room for the worst case sends only the rest
        big = ExperimentConfig.model_validate(
            {**_config(srv.base_url).model_dump(mode="json"), "budget_usd": line.worst_usd * 1.01}
        )
        result = run(big, tmp_path / "out", progress=False)
        again = sum(r.path.endswith("/chat/completions") for r in srv.requests)
        assert again == line.requests  # the answers paid for were not asked again
        spend = result.document.spend
        assert spend is not None
        assert spend.planned_usd == pytest.approx(line.usd)
        assert spend.worst_case_usd == pytest.approx(line.worst_usd)
        assert 0 < spend.spent_usd <= spend.worst_case_usd


def test_the_command_line_says_planned_worst_case_and_spent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalOpenAIServer(chat=lambda body: LONG) as srv:
        path = tmp_path / "config.json"
        path.write_text(_config(srv.base_url).to_json())
        assert main(["reproduce", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "total that this run would spend" in out
    assert "worst case (every answer at its max_tokens cap)" in out
    assert "spent by this run" in out

    planned = next(
        line.usd
        for line in run(
            _config("http://127.0.0.1:9/v1"), tmp_path / "dry", progress=False, dry_run=True
        ).plan
        if line.will_run
    )
    assert planned is not None
    with LocalOpenAIServer(chat=lambda body: LONG) as srv:
        path.write_text(_config(srv.base_url, budget_usd=planned * 1.04).to_json())
        assert main(["reproduce", str(path), "--out", str(tmp_path / "o2"), "--quiet"]) != 0
    assert "stopped sending" in capsys.readouterr().err
