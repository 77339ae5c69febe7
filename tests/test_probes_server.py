"""The memorisation probe against the local OpenAI-compatible server, over real HTTP.

The server is scripted (its ``chat`` function) to answer a known set of probes correctly, a
known set with another catalog item's title and the rest with nothing useful; the probe must
report exactly those fractions, cache every answer, price before sending, and stop at the
budget with nothing sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmrec.data.catalog import Catalog
from llmrec.data.ratings import Ratings
from llmrec.errors import BudgetExceededError, CacheMissError, ConfigError
from llmrec.probes import MemorisationProbe, popularity_buckets
from llmrec.recommenders import get_recommender
from llmrec.testing import LocalOpenAIServer
from llmrec.testing.tiny_model import tiny_dataset


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return tiny_dataset(4, 60, seed=3)[0]


def _ratings(catalog: Catalog) -> Ratings:
    """Movie i rated by a number of users falling with its id (a long tail), on random days."""
    users: list[int] = []
    movies: list[int] = []
    for m in catalog.movie_ids.tolist():
        n = max(1, 200 // m)
        users += range(n)
        movies += [m] * n
    days = np.random.default_rng(0).integers(10_000, 13_000, len(movies)).astype("M8[D]")
    return Ratings(users, movies, [4] * len(movies), days)


def _answers(probe: MemorisationProbe, catalog: Catalog, path: Path, ratings=None) -> dict:
    """user message -> correct answer, read back from the probe's own chat file."""
    probe.write_chat(catalog, path, ratings)
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        assert [m["role"] for m in messages] == ["system", "user", "assistant"]
        out[messages[1]["content"]] = messages[2]["content"]
    return out


def _backend(server: LocalOpenAIServer, cache: Path, **options):
    settings = {"model": "gpt-4o-mini", "base_url": server.base_url, "cache": cache}
    return get_recommender("openai", **{**settings, **options})


def test_the_probe_reports_exactly_the_fraction_answered_correctly(
    catalog: Catalog, tmp_path: Path
) -> None:
    probe = MemorisationProbe(kind="item_lines")
    correct = _answers(probe, catalog, tmp_path / "chat.jsonl")
    ids = catalog.movie_ids.tolist()
    right = set(ids[::3])  # 20 of 60
    other = set(ids[1::7]) - right  # another catalog film's title
    wrong_title = catalog.title(ids[-1])

    def chat(body: dict) -> str:
        user = body["messages"][-1]["content"]
        movie_id = int(user.split(",")[0])
        if movie_id in right:
            return correct[user] + "\n"
        if movie_id in other:
            return catalog.title(movie_id + 1 if movie_id != ids[-1] else ids[0])
        return "I do not remember that line."

    ratings = _ratings(catalog)
    with LocalOpenAIServer(chat=chat) as server:
        backend = _backend(server, tmp_path / "cache.sqlite")
        plan = probe.plan(backend, catalog, ratings)
        assert (plan.requests, plan.cached, plan.cost.requests) == (60, 0, 60)
        assert plan.cost.usd is not None and plan.cost.usd > 0
        report = probe.run(backend, catalog, ratings)
        sent = len(server.requests)

        assert report.total.n == 60
        assert report.total.exact == len(right) and report.recall == len(right) / 60
        assert report.total.resolved == len(right)
        assert report.total.other_item == len(other)
        assert report.other_item_rate == len(other) / 60
        assert {r.movie_id for r in report.rows if r.exact} == right
        assert wrong_title  # the catalog has titles to name
        # buckets: the popularity split, adding up to the total
        buckets = popularity_buckets(catalog, ratings)
        assert [r.bucket for r in report.rows] == [buckets[r.movie_id][0] for r in report.rows]
        assert list(report.by_bucket) == ["head", "torso", "tail"]
        by = report.by_bucket.values()
        assert sum(b.n for b in by) == 60
        assert sum(b.exact for b in by) == report.total.exact
        assert sum(b.other_item for b in by) == report.total.other_item
        low, high = report.total.recall.interval
        assert low < report.recall < high
        assert report.cost_usd is not None and report.cost_usd > 0

        # A rerun sends nothing: every answer is in the response cache.
        again = probe.run(_backend(server, tmp_path / "cache.sqlite"), catalog, ratings)
        assert len(server.requests) == sent
        assert all(r.cached for r in again.rows)
        assert again.rows == [r.__class__(**{**r.__dict__, "cached": True}) for r in report.rows]
        replan = probe.plan(backend, catalog, ratings)
        assert (replan.cached, replan.cost.requests, replan.cost.usd) == (60, 0, 0.0)


@pytest.mark.parametrize(
    ("kind", "item_format"),
    [
        ("item_lines", "netflix"),
        ("item_lines", "ml-100k"),
        ("item_lines", "ml-1m"),
        ("item_lines", "ml-latest"),
        ("title_completion", "netflix"),
        ("user_lines", "netflix"),
    ],
)
def test_the_chat_files_answers_score_full_recall(
    kind: str, item_format: str, catalog: Catalog, tmp_path: Path
) -> None:
    probe = MemorisationProbe(kind=kind, item_format=item_format, max_items=25, seed=1)
    ratings = _ratings(catalog)
    correct = _answers(probe, catalog, tmp_path / "chat.jsonl", ratings)
    with LocalOpenAIServer(chat=lambda body: correct[body["messages"][-1]["content"]]) as server:
        report = probe.run(_backend(server, tmp_path / "c.sqlite"), catalog, ratings)
    assert report.total.n == 25
    assert report.total.n == len(correct) or kind == "user_lines"  # users may share a start
    assert report.recall == 1.0 and report.resolved_recall == 1.0
    assert report.other_item_rate == 0.0


def test_the_budget_stops_the_probe_before_anything_is_sent(
    catalog: Catalog, tmp_path: Path
) -> None:
    probe = MemorisationProbe(max_items=10)
    with LocalOpenAIServer() as server:
        backend = _backend(server, tmp_path / "c.sqlite")
        with pytest.raises(BudgetExceededError, match="nothing was sent"):
            probe.run(backend, catalog, budget_usd=1e-9)
        unpriced = _backend(server, tmp_path / "c.sqlite", model="no-such-model")
        with pytest.raises(BudgetExceededError, match="unknown cost"):
            probe.run(unpriced, catalog, budget_usd=10.0)
        assert server.requests == []
        report = probe.run(unpriced, catalog, budget_usd=10.0, allow_unknown_cost=True)
        assert report.cost_usd is None and len(server.requests) == 10


def test_the_probe_budget_is_checked_at_the_worst_case(catalog: Catalog, tmp_path: Path) -> None:
    # issue 26, item 1: a short expected answer may still run to max_tokens
    probe = MemorisationProbe(max_items=10)
    with LocalOpenAIServer() as server:
        backend = _backend(server, tmp_path / "c.sqlite")
        cost = probe.plan(backend, catalog).cost
        assert cost.usd is not None and cost.worst_usd is not None
        assert cost.worst_usd > 2 * cost.usd
        with pytest.raises(BudgetExceededError, match="max_tokens cap") as info:
            probe.run(backend, catalog, budget_usd=(cost.usd + cost.worst_usd) / 2)
        assert f"could spend {cost.worst_usd:.4f} USD" in str(info.value)
        assert server.requests == []
        probe.run(backend, catalog, budget_usd=cost.worst_usd * 1.01)
        assert len(server.requests) == 10


def test_replay_only_names_the_first_question_without_an_answer(
    catalog: Catalog, tmp_path: Path
) -> None:
    probe = MemorisationProbe(max_items=5)
    with LocalOpenAIServer() as server:
        backend = _backend(server, tmp_path / "c.sqlite", cache_mode="replay_only")
        with pytest.raises(CacheMissError, match="5 of 5 probe requests"):
            probe.run(backend, catalog)
        assert server.requests == []


def test_a_backend_that_is_not_a_language_model_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ConfigError, match="not one"):
        MemorisationProbe().run(get_recommender("popularity"), catalog)


def test_failed_requests_are_misses_and_the_next_run_asks_them_again(
    catalog: Catalog, tmp_path: Path
) -> None:
    probe = MemorisationProbe(max_items=6)
    correct = _answers(probe, catalog, tmp_path / "chat.jsonl")
    with LocalOpenAIServer(chat=lambda body: correct[body["messages"][-1]["content"]]) as server:
        backend = _backend(server, tmp_path / "c.sqlite", max_retries=0, max_concurrency=1)
        server.fail_next(2, status=500)
        first = probe.run(backend, catalog)
        assert (first.total.n, first.total.failed, first.total.exact) == (6, 2, 4)
        assert all(not r.exact and not r.cached for r in first.rows if r.failed)
        assert "failed requests (scored as misses): 2" in first.to_text()
        # the failed answers were not cached: the next run asks for exactly those two
        sent = len(server.requests)
        second = probe.run(backend, catalog)
        assert len(server.requests) == sent + 2
        assert (second.total.failed, second.recall) == (0, 1.0)
