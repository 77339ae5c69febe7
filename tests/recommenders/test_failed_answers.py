"""A profile that still fails after every retry is a failed answer, not the end of the run
(issue 11, item 11): an empty list with ``diagnostics["failed"]``, not cached (the next run asks
again), counted in the experiment's report; ``fail_fast=True`` restores aborting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import BackendError
from llmrec.experiment import ExperimentConfig, run
from llmrec.recommenders.llm.cache import ResponseCache
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing import LocalOpenAIServer

CATALOG = Catalog(Movie(i, f"Film {i}", 1990 + i) for i in range(1, 21))
RATINGS = Ratings(np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]"))
PROFILES = [(1, 2), (3, 4), (5, 6), (7, 8)]
BROKEN = "Film 5 (1995)"


def answer(body: dict[str, Any]) -> str:
    user = body["messages"][-1]["content"]
    if BROKEN in user:
        raise RuntimeError("the model crashed on this profile")
    return "1. Film 11 (2001)\n2. Film 12 (2002)"


@pytest.fixture
def srv() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(answer) as server:
        yield server


def make(srv: LocalOpenAIServer, cache: Path, **options: Any) -> OpenAIRecommender:
    return OpenAIRecommender(
        base_url=srv.base_url,
        api_key="test",
        cache=cache,
        max_retries=1,
        backoff_base=0.0,
        **options,
    ).fit(RATINGS, CATALOG)


def test_a_failing_profile_is_a_failed_answer(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    got = make(srv, cache).recommend_many(PROFILES, k=2)
    assert [r.movie_ids for r in got] == [(11, 12), (11, 12), (), (11, 12)]
    failed = got[2]
    assert "HTTP 500" in failed.diagnostics["failed"]
    assert "the model crashed" in failed.diagnostics["failed"]
    assert failed.diagnostics["attempts"] == 2 and failed.cached is False
    assert all("failed" not in r.diagnostics for r in got[:2] + got[3:])
    assert len(ResponseCache(cache)) == 3  # not cached: the next run asks again
    srv.set_chat(lambda body: "1. Film 13 (2003)")
    srv.clear_requests()
    again = make(srv, cache).recommend_many(PROFILES, k=2)
    assert again[2].movie_ids == (13,) and len(srv.requests) == 1


def test_fail_fast_aborts(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"HTTP 500 to profile #\d"):
        make(srv, tmp_path / "c.sqlite", fail_fast=True).recommend_many(PROFILES, k=2)


def test_an_invalid_response_is_a_failed_answer(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    srv.set_chat(lambda body: {"object": "error", "message": "model not loaded"})
    got = make(srv, tmp_path / "c.sqlite").recommend((1, 2), k=2)
    assert got.movie_ids == () and "without a 'choices' list" in got.diagnostics["failed"]


def test_a_wrong_key_still_stops_the_run(tmp_path: Path) -> None:
    # not a profile's failure: every request would fail the same way
    guarded = LocalOpenAIServer(answer, api_key="right-key-1234")
    with guarded, pytest.raises(BackendError, match=r"HTTP 401"):
        make(guarded, tmp_path / "c.sqlite").recommend_many(PROFILES, k=2)


@pytest.mark.slow
def test_the_experiment_counts_failed_answers_and_reruns_them(tmp_path: Path) -> None:
    calls = {"n": 0}

    def flaky(body: dict[str, Any]) -> str:
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise RuntimeError("boom")
        return "1. Nothing Real (1999)"

    with LocalOpenAIServer(flaky) as srv:
        cfg = ExperimentConfig.model_validate(
            {
                "data": {"kind": "synthetic", "n_users": 800, "n_movies": 200,
                         "n_ratings": 30_000, "seed": 5},
                "truth": {"a": {"n_users": 60}},
                "truth_replace": True,
                "n_bootstrap": 20,
                "base_url": srv.base_url,
                "free": True,
                "backends": [
                    {"name": "popularity"},
                    {"name": "openai-zero-shot", "label": "llm",
                     "config": {"max_retries": 0}},
                ],
            }
        )  # fmt: skip
        out = tmp_path / "out"
        result = run(cfg, out, progress=False)
        diag = result.results["datasets"]["a"]["llm_diagnostics"]["llm"]
        rows = [json.loads(line) for line in (out / "recs/a/llm.jsonl").read_text().splitlines()]
        n_failed = sum("failed" in r["diagnostics"] for r in rows)
        assert n_failed > 0 and diag["failed_answers"] == n_failed
        assert all(r["movie_ids"] == [] for r in rows if "failed" in r["diagnostics"])
        assert "failed answers" in (out / "report.md").read_text()
        # scored as a miss: every user is in the per-user table
        report = result.results["datasets"]["a"]["metrics"]["llm"]
        assert report["n_evaluated"] == len(rows) and report["n_missing"] == 0
        # the next run asks again for the failed ones only
        srv.set_chat(lambda body: "1. Nothing Real (1999)")
        srv.clear_requests()
        second = run(cfg, out, progress=False)
        chat = [r for r in srv.requests if r.path.endswith("/chat/completions")]
        assert len(chat) == n_failed
        assert second.results["datasets"]["a"]["llm_diagnostics"]["llm"]["failed_answers"] == 0
        with pytest.raises(BackendError):
            srv.set_chat(flaky)
            fast = cfg.model_copy(update={"fail_fast": True})
            run(fast, tmp_path / "fast", progress=False)
