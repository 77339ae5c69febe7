"""The ``openai`` backend end to end: the real SDK against ``LocalOpenAIServer`` over loopback.

The server's chat function plays a model that knows a tiny catalog: it reads the profile from the
user message and answers with one of the profile's own movies, one invented title, then the
movies :func:`reference` names. :func:`reference` is therefore the brute-force answer every
recommendation is checked against.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import (
    APIKeyMissingError,
    BackendError,
    CacheMissError,
    ConfigError,
    NotFittedError,
)
from llmrec.openai_api.prices import inference_cost
from llmrec.prompts import PromptTemplate
from llmrec.recommenders.openai import OpenAIConfig, OpenAIRecommender, fine_tuned, zero_shot
from llmrec.recommenders.registry import get_recommender
from llmrec.testing.contract import RecommenderContract, contract_data
from llmrec.testing.server import LocalOpenAIServer

TITLES = (
    "Heat", "Casino", "Alien", "Fargo", "Rocky", "Jaws", "Seven", "Brazil", "Gattaca", "Memento",
    "Amelie", "Ran", "Vertigo", "Psycho", "Tootsie", "Network", "Rashomon", "Gandhi", "Patton",
    "Shane",
)  # fmt: skip
CATALOG = Catalog(Movie(i + 1, t, 1970 + i) for i, t in enumerate(TITLES))
INVENTED = "Quixotic Moonlight Parade"
ANSWER_LEN = 6
SECRET = "sk-test-very-secret-0123456789"
CHAT = "/v1/chat/completions"


def reference(profile: tuple[int, ...], k: int) -> list[int]:
    """The movies the fake model recommends, in order: the next ids after the profile's
    largest one, cyclically, skipping the profile; ANSWER_LEN of them, then cut at ``k``."""
    n = len(TITLES)
    start = max(profile, default=0)
    order = [(start + j) % n + 1 for j in range(n)]
    return [m for m in order if m not in profile][:ANSWER_LEN][:k]


def profile_from(body: dict[str, Any], catalog: Catalog) -> tuple[int, ...]:
    labels = {m.label(): m.movie_id for m in catalog}
    user = body["messages"][-1]["content"]
    return tuple(labels[line] for line in user.splitlines()[1:] if line in labels)


def fake_model(body: dict[str, Any]) -> str:
    profile = profile_from(body, CATALOG)
    picks: list[tuple[str, int | None]] = []
    if profile:
        picks.append((CATALOG.title(profile[0]), CATALOG.year(profile[0])))
    picks.append((INVENTED, 1999))
    picks += [(CATALOG.title(m), CATALOG.year(m)) for m in reference(profile, ANSWER_LEN)]
    if "response_format" in body:
        return json.dumps({"recommendations": [{"title": t, "year": y} for t, y in picks]})
    return "\n".join(f"{i}. {t} ({y})" for i, (t, y) in enumerate(picks, 1))


RATINGS = Ratings(
    np.array([1, 1]), np.array([1, 2]), np.array([5, 4]), np.array(["2005-01-01"] * 2, "M8[D]")
)
PROFILES = [(1, 2, 3), (4, 9), (20,), (5, 6, 7, 8), (1, 2, 3), (11, 12)]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(fake_model) as srv:
        yield srv


@pytest.fixture
def srv(server: LocalOpenAIServer) -> LocalOpenAIServer:
    server.reset_failures()
    server.set_chat(fake_model)
    server.clear_requests()
    return server


def make(srv: LocalOpenAIServer, cache: Path, **options: Any) -> OpenAIRecommender:
    options.setdefault("api_key", SECRET)
    rec = OpenAIRecommender(base_url=srv.base_url, cache=cache, **options)
    return rec.fit(RATINGS, CATALOG)


def chat_requests(srv: LocalOpenAIServer) -> list[Any]:
    return [r for r in srv.requests if r.path == CHAT]


def test_end_to_end_parses_resolves_and_reports(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    rec = make(srv, tmp_path / "c.sqlite")
    got = rec.recommend_many(PROFILES, k=4, progress=True)
    assert [list(r.movie_ids) for r in got] == [reference(p, 4) for p in PROFILES]
    first = got[0]
    # ranks in the answer: profile movie 1, invented 2, then the reference from rank 3 on
    assert first.scores == (1 / 3, 1 / 4, 1 / 5, 1 / 6)
    assert first.diagnostics["unresolved"] == [f"{INVENTED} (1999)"]
    assert first.diagnostics["n_unresolved"] == 1
    assert first.diagnostics["n_profile_movies"] == 1
    assert first.diagnostics["n_titles"] == ANSWER_LEN + 2
    assert first.diagnostics["n_beyond_k"] == ANSWER_LEN - 4
    assert first.diagnostics["valid"] is True
    assert first.raw_text is not None and first.raw_text.startswith("1. Heat (1970)")
    assert not first.cached and first.latency_s is not None and first.latency_s > 0
    usage = first.usage
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    expected_cost = inference_cost(
        "gpt-4o-mini-2024-07-18", usage["prompt_tokens"], usage["completion_tokens"]
    )
    assert first.cost_usd == pytest.approx(expected_cost)
    # one request per distinct profile (PROFILES repeats one), with the configured body
    bodies = [r.body for r in chat_requests(srv)]
    assert len(bodies) == len(set(PROFILES))
    assert all(b["temperature"] == 0.0 and b["max_tokens"] == 400 for b in bodies)
    assert all(b["model"] == "gpt-4o-mini-2024-07-18" and "seed" not in b for b in bodies)
    assert {r.headers["authorization"] for r in chat_requests(srv)} == {f"Bearer {SECRET}"}


def test_single_recommend_and_seed(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    rec = make(srv, tmp_path / "c.sqlite", seed=7, temperature=0.3, max_tokens=None)
    assert list(rec.recommend((4, 9), k=10).movie_ids) == reference((4, 9), 10)
    (body,) = [r.body for r in chat_requests(srv)]
    assert body["seed"] == 7 and body["temperature"] == 0.3 and "max_tokens" not in body


def test_unknown_profile_movies_are_left_out_of_the_prompt(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    rec = make(srv, tmp_path / "c.sqlite")
    got = rec.recommend((3, 999_999), k=3)
    assert list(got.movie_ids) == reference((3,), 3)
    (body,) = [r.body for r in chat_requests(srv)]
    assert body["messages"][-1]["content"].splitlines()[1:] == ["Alien (1972)"]


def test_structured_outputs_send_the_schema_and_parse_json(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    template = PromptTemplate(output_format="json")
    rec = make(srv, tmp_path / "c.sqlite", structured_output=True, template=template)
    got = rec.recommend_many(PROFILES[:3], k=5)
    assert [list(r.movie_ids) for r in got] == [reference(p, 5) for p in PROFILES[:3]]
    assert got[0].diagnostics["format"] == "json"
    bodies = [r.body for r in chat_requests(srv)]
    assert all(b["response_format"] == template.response_format() for b in bodies)
    assert bodies[0]["response_format"]["json_schema"]["strict"] is True


def test_structured_output_needs_a_json_template(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    rec = make(srv, tmp_path / "c.sqlite", structured_output=True)
    with pytest.raises(ConfigError, match="output_format='json'"):
        rec.recommend((1, 2), k=3)
    assert chat_requests(srv) == []


def test_rerun_is_served_from_the_cache_without_requests(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    cache = tmp_path / "c.sqlite"
    first = make(srv, cache).recommend_many(PROFILES, k=5)
    n = len(chat_requests(srv))
    again = make(srv, cache).recommend_many(PROFILES, k=5)
    assert len(chat_requests(srv)) == n
    assert [r.movie_ids for r in again] == [r.movie_ids for r in first]
    assert [r.raw_text for r in again] == [r.raw_text for r in first]
    assert all(r.cached for r in again) and not any(r.cached for r in first)
    # the original cost is reported with the cached answer, so "paid now" = not cached
    assert [r.cost_usd for r in again] == pytest.approx([r.cost_usd for r in first])
    # another k is another prompt, hence another request
    make(srv, cache).recommend(PROFILES[0], k=3)
    assert len(chat_requests(srv)) == n + 1


def test_replay_only_fails_on_a_miss_and_replays_a_full_cache(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    cache = tmp_path / "c.sqlite"
    replay = make(srv, cache, cache_mode="replay_only")
    with pytest.raises(CacheMissError, match=r"6 of 6 profiles.*profile #0 \(1, 2, 3\)"):
        replay.recommend_many(PROFILES, k=5)
    assert chat_requests(srv) == []
    paid = make(srv, cache).recommend_many(PROFILES[:2], k=5)
    srv.clear_requests()
    with pytest.raises(CacheMissError, match=r"3 of 6 profiles.*profile #2 \(20,\)"):
        replay.recommend_many(PROFILES, k=5)
    got = replay.recommend_many(PROFILES[:2], k=5)
    assert [r.movie_ids for r in got] == [r.movie_ids for r in paid]
    assert chat_requests(srv) == []


def test_cache_off_always_asks(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    rec = make(srv, tmp_path / "c.sqlite", cache_mode="off")
    rec.recommend_many(PROFILES[:2], k=5)
    rec.recommend_many(PROFILES[:2], k=5)
    assert len(chat_requests(srv)) == 4
    assert not (tmp_path / "c.sqlite").exists()


def test_api_key_is_resolved_only_when_a_request_is_needed(
    srv: LocalOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cache = tmp_path / "c.sqlite"
    # a server on this machine needs no key, so ask one that is not (never reached: TEST-NET)
    remote = "http://192.0.2.1:9/v1"
    keyless = OpenAIRecommender(base_url=remote, cache=cache).fit(RATINGS, CATALOG)
    with pytest.raises(APIKeyMissingError, match=r"OPENAI_API_KEY.*api_key="):
        keyless.recommend_many(PROFILES[:2], k=5)
    assert chat_requests(srv) == []
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    OpenAIRecommender(base_url=srv.base_url, cache=cache).fit(RATINGS, CATALOG).recommend_many(
        PROFILES[:2], k=5
    )
    assert {r.headers["authorization"] for r in chat_requests(srv)} == {"Bearer sk-from-env"}
    monkeypatch.delenv("OPENAI_API_KEY")
    # a fully cached run needs no key at all
    got = OpenAIRecommender(base_url=srv.base_url, cache=cache).fit(RATINGS, CATALOG)
    assert all(r.cached for r in got.recommend_many(PROFILES[:2], k=5))


def test_the_api_key_never_leaves_the_process(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    rec = make(srv, cache, batch_dir=tmp_path / "batches")
    rec.recommend_many(PROFILES, k=5)
    for text in (repr(rec), repr(rec.config), json.dumps(rec.to_config()), str(rec.get_params())):
        assert SECRET not in text
    assert rec.config.model_dump_json().find(SECRET) == -1
    assert rec.config.api_key is not None and rec.config.api_key.get_secret_value() == SECRET
    rec.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert stored and SECRET.encode() not in stored
    with sqlite3.connect(cache) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM responses").fetchone()
    assert n == len(set(PROFILES))


def test_fit_needs_a_catalog_and_recommend_needs_fit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a catalog"):
        OpenAIRecommender(cache=tmp_path / "c.sqlite").fit(RATINGS)
    with pytest.raises(NotFittedError):
        OpenAIRecommender(cache=tmp_path / "c.sqlite").recommend((1,), 3)


def test_config_validation_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMREC_CACHE_DIR", str(tmp_path))
    cfg = OpenAIConfig()
    assert cfg.model == "gpt-4o-mini-2024-07-18" and cfg.temperature == 0.0
    assert cfg.resolved_cache_path() == tmp_path / "llm" / "responses.sqlite"
    assert cfg.resolved_base_url() == "https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/")
    assert cfg.resolved_base_url() == "http://localhost:11434/v1"
    assert OpenAIConfig(base_url="http://h:8000/v1/").base_url == "http://h:8000/v1"
    for bad in ({"base_url": "localhost:8000"}, {"max_concurrency": 0}, {"timeout": 0}):
        with pytest.raises(ConfigError):
            OpenAIRecommender(**bad)
    with pytest.raises(ConfigError, match="max_concurency"):
        OpenAIRecommender(max_concurency=4)


def test_presets(tmp_path: Path) -> None:
    assert zero_shot().config.model == "gpt-4o-mini-2024-07-18"
    assert zero_shot(max_concurrency=3).config.max_concurrency == 3
    model = "ft:gpt-4o-mini-2024-07-18:org::abc123"
    assert fine_tuned(model=model).config.model == model
    assert get_recommender("openai-fine-tuned", model=model).config.model == model
    assert isinstance(get_recommender("openai-zero-shot"), OpenAIRecommender)
    for bad in ({}, {"model": "gpt-4o-mini-2024-07-18"}):
        with pytest.raises(ConfigError, match="starts with 'ft:'"):
            fine_tuned(**bad)
    with pytest.raises(ConfigError, match="starts with 'ft:'"):
        get_recommender("openai-fine-tuned")


def test_unpriced_models_report_no_cost(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    rec = make(srv, tmp_path / "c.sqlite", model="llama3.1:8b")
    got = rec.recommend((1, 2), k=3)
    assert got.cost_usd is None and list(got.movie_ids) == reference((1, 2), 3)
    fine = make(srv, tmp_path / "c.sqlite", model="ft:gpt-4o-mini-2024-07-18:org::x")
    paid = fine.recommend((1, 2), k=3)
    pt, ct = paid.usage["prompt_tokens"], paid.usage["completion_tokens"]
    assert paid.cost_usd == pytest.approx((pt * 0.30 + ct * 1.20) / 1e6)


# -- the shared conformance suite, against the local server -----------------------------------
def contract_model(body: dict[str, Any]) -> str:
    """Recommend the contract catalog's movies outside the profile, rotated by the profile."""
    _, catalog, _ = contract_data()
    profile = profile_from(body, catalog)
    user = body["messages"][-1]["content"]
    if "\nCandidate movies" in user:  # a ranking prompt: rank the listed candidates, rotated
        shown = [
            line.split(". ", 1)[1] for line in user.split("\nCandidate movies")[1].splitlines()[1:]
        ]
        shift = sum(profile) % len(shown)
        return "\n".join(f"{i}. {t}" for i, t in enumerate(shown[shift:] + shown[:shift], 1))
    others = [m for m in catalog if m.movie_id not in profile]
    shift = sum(profile) % len(others)
    order = others[shift:] + others[:shift]
    return "\n".join(f"{i}. {m.label()}" for i, m in enumerate(order[:12], 1))


class TestOpenAIContract(RecommenderContract):
    @pytest.fixture(autouse=True)
    def _local_server(self, srv: LocalOpenAIServer, tmp_path: Path) -> None:
        srv.set_chat(contract_model)
        self.base_url = srv.base_url
        self.cache = tmp_path / "contract.sqlite"

    def make_recommender(self) -> OpenAIRecommender:
        return OpenAIRecommender(base_url=self.base_url, api_key=SECRET, cache=self.cache)


# -- Batch API mode ----------------------------------------------------------------------------
def batch_input(srv: LocalOpenAIServer) -> list[dict[str, Any]]:
    batch = list(srv.batches.values())[-1]  # the newest
    text = srv.file_content(batch["input_file_id"]).decode()
    return [json.loads(line) for line in text.splitlines()]


def test_batch_mode_end_to_end_at_half_price(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    rec = make(srv, cache, batch=True, batch_poll_interval=0.02, batch_dir=tmp_path / "b")
    got = rec.recommend_many(PROFILES, k=5)
    assert [list(r.movie_ids) for r in got] == [reference(p, 5) for p in PROFILES]
    assert chat_requests(srv) == []
    lines = batch_input(srv)
    assert len(lines) == len(set(PROFILES))
    assert {line["custom_id"] for line in lines} == {r.diagnostics["request_key"] for r in got}
    assert all(line["url"] == CHAT and line["method"] == "POST" for line in lines)
    assert all(line["body"]["model"] == "gpt-4o-mini-2024-07-18" for line in lines)
    for r in got:
        assert r.diagnostics["batch"] and not r.cached
        full = inference_cost(
            "gpt-4o-mini-2024-07-18", r.usage["prompt_tokens"], r.usage["completion_tokens"]
        )
        assert r.cost_usd == pytest.approx(full / 2)
    # the answers are in the same cache: a normal run now sends nothing at all
    srv.clear_requests()
    again = make(srv, cache).recommend_many(PROFILES, k=5)
    assert srv.requests == [] and all(r.cached for r in again)
    assert [r.movie_ids for r in again] == [r.movie_ids for r in got]


def test_batch_sends_only_what_is_not_cached(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    make(srv, cache).recommend_many(PROFILES[:2], k=5)
    rec = make(srv, cache, batch=True, batch_poll_interval=0.02, batch_dir=tmp_path / "b")
    got = rec.recommend_many(PROFILES, k=5)
    assert [list(r.movie_ids) for r in got] == [reference(p, 5) for p in PROFILES]
    assert len(batch_input(srv)) == len(set(PROFILES)) - 2
    assert [r.cached for r in got] == [True, True, False, False, True, False]


def test_submit_then_collect_from_another_instance(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    cache, folder = tmp_path / "c.sqlite", tmp_path / "b"
    rec = make(srv, cache, batch_dir=folder)
    n_batches = len(srv.batches)
    handle = rec.submit_batch(PROFILES, k=5)
    assert handle.n_requests == len(set(PROFILES)) and handle.n_profiles == len(PROFILES)
    assert handle.state_path.parent == folder
    assert SECRET not in handle.state_path.read_text()
    # submitting the same requests again finds the batch instead of paying twice
    assert rec.submit_batch(PROFILES, k=5).batch_id == handle.batch_id
    assert len(srv.batches) == n_batches + 1
    other = make(srv, cache, batch_dir=folder)
    got = other.collect_batch(handle.state_path, poll_interval=0.02)
    assert got is not None
    assert [list(r.movie_ids) for r in got] == [reference(p, 5) for p in PROFILES]
    # collecting again reads the cache only
    srv.clear_requests()
    second = other.collect_batch(handle)
    assert second is not None and all(r.cached for r in second)
    assert [(r.movie_ids, r.raw_text, r.cost_usd) for r in second] == [
        (r.movie_ids, r.raw_text, r.cost_usd) for r in got
    ]
    assert srv.requests == []


def test_collect_without_waiting_returns_none_while_running(tmp_path: Path) -> None:
    with LocalOpenAIServer(fake_model, batch_step_seconds=30.0) as slow:
        rec = make(slow, tmp_path / "c.sqlite", batch_dir=tmp_path / "b")
        handle = rec.submit_batch(PROFILES[:2], k=5)
        assert rec.collect_batch(handle, wait=False) is None
        rec.close()


@pytest.mark.parametrize("resubmit", [False, True])
def test_failed_batch_lines_are_requested_later(
    srv: LocalOpenAIServer, tmp_path: Path, resubmit: bool
) -> None:
    def flaky(body: dict[str, Any]) -> str:
        if profile_from(body, CATALOG) == (20,):
            raise RuntimeError("model overloaded")
        return fake_model(body)

    srv.set_chat(flaky)
    cache = tmp_path / "c.sqlite"
    rec = make(srv, cache, batch=True, batch_poll_interval=0.02, batch_dir=tmp_path / "b")
    with pytest.raises(BackendError, match=r"no answer for 1 of 5 requests.*model overloaded"):
        rec.recommend_many(PROFILES, k=5)
    srv.set_chat(fake_model)
    srv.clear_requests()
    if resubmit:  # a second batch carries only the failed request
        got = rec.recommend_many(PROFILES, k=5)
        (line,) = batch_input(srv)
        assert profile_from(line["body"], CATALOG) == (20,)
        assert chat_requests(srv) == []
        assert [list(r.movie_ids) for r in got] == [reference(p, 5) for p in PROFILES]
        return
    got = make(srv, cache).recommend_many(PROFILES, k=5)
    assert [list(r.movie_ids) for r in got] == [reference(p, 5) for p in PROFILES]
    (only,) = chat_requests(srv)
    assert profile_from(only.body, CATALOG) == (20,)


def test_pickled_backend_reopens_its_handles(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    import pickle

    rec = make(srv, tmp_path / "c.sqlite")
    first = rec.recommend_many(PROFILES[:3], k=5)
    again = pickle.loads(pickle.dumps(rec))
    got = again.recommend_many(PROFILES[:3], k=5)
    assert [r.movie_ids for r in got] == [r.movie_ids for r in first]
    assert all(r.cached for r in got)
    again.close()
    rec.close()


def test_a_state_file_of_an_uncollected_batch_is_not_overwritten(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    rec = make(srv, tmp_path / "c.sqlite", batch_dir=tmp_path / "b")
    state = tmp_path / "state.json"
    first = rec.submit_batch(PROFILES[:2], k=5, state_path=state)
    with pytest.raises(ConfigError, match=f"tracks batch {first.batch_id}.*collect"):
        rec.submit_batch(PROFILES[2:4], k=5, state_path=state)
    assert rec.collect_batch(state, poll_interval=0.02) is not None
    second = rec.submit_batch(PROFILES[2:4], k=5, state_path=state)
    assert second.batch_id not in (None, first.batch_id)


def test_batch_api_calls_retry_transient_errors_and_report_others(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    rec = make(srv, tmp_path / "c.sqlite", batch_dir=tmp_path / "b", backoff_base=0.01)
    srv.fail_next(1, status=500, retry_after=None, path_prefix="/v1/files")
    srv.fail_next(1, status=429, retry_after=0.0, path_prefix="/v1/batches")
    handle = rec.submit_batch(PROFILES[:2], k=5)
    got = rec.collect_batch(handle, poll_interval=0.02)
    assert got is not None
    assert [list(r.movie_ids) for r in got] == [reference(p, 5) for p in PROFILES[:2]]
    srv.fail_next(1, status=400, retry_after=None, path_prefix="/v1/batches")
    with pytest.raises(BackendError, match=r"creation of the batch failed: HTTP 400"):
        rec.submit_batch(PROFILES[2:4], k=5)
