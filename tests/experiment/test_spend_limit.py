"""The budget holds while requests are in flight (issue 26, item 1).

The plan prices each answer at the length of ``k`` titles, but an answer may run to
``max_tokens``. A server that answers about 400 tokens made a run planned at 0.0115 USD under
``budget_usd = 0.012`` spend 0.0321 USD and exit 0. Now each request is priced at its worst case
(output at the ``max_tokens`` cap) before it is sent, what answers cost is added up as they
arrive, and the run stops sending (with :class:`BudgetExceededError`) once the next request
could pass the budget. The check before anything is sent compares the worst case too, so the
issue's run stops before its first request; ``report.md`` shows planned, worst-case and actual
spend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
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


def _chats(srv: LocalOpenAIServer) -> int:
    return sum(r.path.endswith("/chat/completions") for r in srv.requests)


def test_the_check_before_sending_prices_the_worst_case(tmp_path: Path) -> None:
    with LocalOpenAIServer(chat=lambda body: LONG) as srv:
        dry = run(_config(srv.base_url), tmp_path / "dry", progress=False, dry_run=True)
        (line,) = [p for p in dry.plan if p.will_run]
        assert line.usd is not None and line.worst_usd is not None
        assert line.worst_usd > 2 * line.usd  # 400 output tokens against k titles
        budget = line.usd * 0.012 / 0.0115  # the case: planned just under the budget
        with pytest.raises(BudgetExceededError, match="nothing was sent") as info:
            run(_config(srv.base_url, budget_usd=budget), tmp_path / "out", progress=False)
        assert _chats(srv) == 0
        message = str(info.value)
        assert f"could spend {line.worst_usd:.4f} USD" in message
        assert f"planned {line.usd:.4f} USD" in message and "max_tokens" in message
        # a budget that covers the worst case runs everything and records the three figures
        result = run(
            _config(srv.base_url, budget_usd=line.worst_usd * 1.01),
            tmp_path / "out",
            progress=False,
        )
        assert _chats(srv) == line.requests
        assert _spent(srv) <= line.worst_usd * 1.01
        spend = result.document.spend
        assert spend is not None
        assert spend.planned_usd == pytest.approx(line.usd)
        assert spend.worst_case_usd == pytest.approx(line.worst_usd)
        assert 0 < spend.spent_usd <= spend.worst_case_usd
        assert spend.spent_usd == pytest.approx(_spent(srv))
        report = (tmp_path / "out" / "report.md").read_text()
        assert "## Spend" in report
        assert f"{spend.planned_usd:.4f} USD" in report
        assert f"{spend.worst_case_usd:.4f} USD" in report
        assert f"{spend.spent_usd:.4f} USD" in report


def test_requests_in_flight_stop_before_the_budget(tmp_path: Path) -> None:
    """Below the experiment's check, a backend under a SpendLimit sends only what fits at its
    worst case given what answers actually cost, then stops with what it spent."""
    from llmrec.data.catalog import Catalog, Movie
    from llmrec.data.ratings import Ratings
    from llmrec.recommenders.capabilities import RunSettings
    from llmrec.recommenders.llm.spend import SpendLimit
    from llmrec.recommenders.openai import OpenAIRecommender

    catalog = Catalog(Movie(i, f"Film {i}", 1990 + i) for i in range(1, 21))
    ratings = Ratings(
        np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]")
    )
    profiles = [(1, 2), (3, 4), (5, 6), (7, 8)]
    with LocalOpenAIServer(chat=lambda body: LONG) as srv:
        rec = OpenAIRecommender(base_url=srv.base_url, api_key="test", cache=tmp_path / "c.db")
        worst = rec.estimate_cost(profiles, 10, catalog).worst_usd
        assert worst is not None
        limit = SpendLimit(worst / len(profiles) * 2.5)  # room for two answers at the cap
        rec = rec.with_run_settings(RunSettings(spend_limit=limit)).fit(ratings, catalog)
        with pytest.raises(BudgetExceededError, match="stopped sending") as info:
            rec.recommend_many(profiles, k=10)
        assert _chats(srv) == 2
        assert 0 < limit.spent_usd <= limit.budget_usd
        assert "2 request(s) not sent" in str(info.value)


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
        assert _chats(srv) == 0
    assert "if every answer ran to its max_tokens cap" in capsys.readouterr().err
