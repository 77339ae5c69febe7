"""Ranking by likelihood beside the generative ranking in an experiment: one model read both
ways on the same candidate sets, both in the ranking report, with paired tests between them.
The model is the official SDK against ``LocalOpenAIServer`` (prompt log-probabilities as vLLM
serves them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmrec.experiment import ExperimentConfig, Results, run
from llmrec.testing import LocalOpenAIServer
from llmrec.testing.openai_server import hashed_logprob

DATA = {"kind": "synthetic", "n_users": 120, "n_movies": 300, "n_ratings": 3_000, "seed": 4}
TRUTH = {"last": {"kind": "last_n", "n": 2, "ranking": "candidates", "n_candidates": 5}}


def in_shown_order(body: dict[str, Any]) -> str:
    """Ranks the candidates in the order shown (a position-biased model); a likelihood request
    (the answer sent as the last, assistant message) is answered with nothing."""
    if body["messages"][-1]["role"] != "user":
        return ""
    user = body["messages"][-1]["content"]
    lines = user.split("\nCandidate movies")[1].splitlines()[1:]
    shown = [line.split(". ", 1)[1] for line in lines if ". " in line]
    return "\n".join(f"{i}. {title}" for i, title in enumerate(shown, 1))


def _config(base_url: str) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "data": DATA,
            "truth": TRUTH,
            "truth_replace": True,
            "n_bootstrap": 20,
            "base_url": base_url,
            "free": True,
            "backends": [
                {"name": "popularity"},
                {"name": "openai-zero-shot", "label": "generate"},
                {
                    "name": "openai-zero-shot",
                    "label": "likelihood",
                    "config": {"ranking": "likelihood"},
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("rank_likelihood")
    with LocalOpenAIServer(in_shown_order, prompt_logprob=hashed_logprob) as server:
        result = run(_config(server.base_url), out, progress=False)
        again = run(_config(server.base_url), out, progress=False)
    return out, result, again


def test_both_readings_rank_the_same_sets_and_are_tested_against_each_other(
    finished: Any,
) -> None:
    out, result, again = finished
    r = Results.from_json_dict(result.results).datasets["last"].ranking
    assert r is not None and set(r.backends) == {"popularity", "generate", "likelihood"}
    assert r.backends["likelihood"].validity_rate == 1.0
    shown = {}
    for label in ("generate", "likelihood"):
        rows = [json.loads(x) for x in (out / r.backends[label].files[0]).read_text().splitlines()]
        shown[label] = [(row["user_id"], row["candidates"]) for row in rows]
        if label == "likelihood":  # a full permutation of every set, read by likelihood
            assert all(sorted(row["movie_ids"]) == sorted(row["candidates"]) for row in rows)
            assert {row["diagnostics"]["ranking"] for row in rows} == {"likelihood"}
    assert shown["generate"] == shown["likelihood"]  # the same sets in the same orders
    # the language-model backends are tested against each other, not the classic one
    assert r.comparisons is not None and list(r.comparisons) == ["likelihood vs generate"]
    tests = r.comparisons["likelihood vs generate"]["results"]
    assert set(tests) == set(r.metrics) and r.p_adjust == "holm"
    for metric, cell in tests.items():
        a, b = r.backends["likelihood"].strict[metric], r.backends["generate"].strict[metric]
        assert a.mean is not None and b.mean is not None
        assert cell["diff"] == pytest.approx(a.mean - b.mean, abs=1e-12)
        assert 0 <= cell["randomization_pvalue"] <= cell["randomization_pvalue_adj"] <= 1
    assert "rank-tests:last" in again.reused and again.ran == []


def test_the_ranking_report_shows_both_and_the_paired_tests(finished: Any) -> None:
    out, _, _ = finished
    report = (out / "report.md").read_text("utf-8")
    assert "| likelihood | HR@1 |" in report and "| generate | HR@1 |" in report
    assert "Paired tests between the language-model backends on the same sets" in report
    assert "| likelihood vs generate | HR@1 |" in report


def test_a_run_without_two_language_models_has_no_ranking_tests(tmp_path: Path) -> None:
    with LocalOpenAIServer(in_shown_order) as server:
        config = _config(server.base_url).model_copy(
            update={"backends": _config(server.base_url).backends[:2]}
        )
        result = run(config, tmp_path, progress=False)
    ranking = result.results["datasets"]["last"]["ranking"]
    assert "comparisons" not in ranking
    assert not (tmp_path / "metrics" / "last.ranking_comparisons.json").exists()
