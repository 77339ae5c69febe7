"""The ``openai`` backend under failure: 429/5xx, timeouts, drops, concurrency, kill and resume.

All against ``LocalOpenAIServer`` over loopback with the real SDK. The fake model answers the
three catalog movies after the profile's largest id (:func:`reference`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import BackendError
from llmrec.recommenders.llm.cache import ResponseCache, request_key
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing.server import LocalOpenAIServer

N_MOVIES = 40
CATALOG = Catalog(Movie(i, f"Picture Number {i}", 1950 + i) for i in range(1, N_MOVIES + 1))
LABELS = {m.label(): m.movie_id for m in CATALOG}
RATINGS = Ratings(np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]"))
KEY = "sk-test-faults"
CHAT = "/v1/chat/completions"
PROFILES = [(i, i + 1) for i in range(1, 13)]


def reference(profile: tuple[int, ...]) -> list[int]:
    top = max(profile)
    return [(top + j) % N_MOVIES + 1 for j in range(3)]


def profile_of(body: dict[str, Any]) -> tuple[int, ...]:
    lines = body["messages"][-1]["content"].splitlines()[1:]
    return tuple(LABELS[line] for line in lines)


def fake_model(body: dict[str, Any]) -> str:
    picks = reference(profile_of(body))
    return "\n".join(f"{i}. {CATALOG.label(m)}" for i, m in enumerate(picks, 1))


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
    options.setdefault("api_key", KEY)
    options.setdefault("backoff_base", 0.01)
    return OpenAIRecommender(base_url=srv.base_url, cache=cache, **options).fit(RATINGS, CATALOG)


def chat_requests(srv: LocalOpenAIServer) -> list[Any]:
    return [r for r in srv.requests if r.path == CHAT]


def check(got: list[Any], profiles: list[tuple[int, ...]]) -> None:
    assert [list(r.movie_ids) for r in got] == [reference(p) for p in profiles]


def test_429_with_retry_after_is_honoured(
    srv: LocalOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="llmrec.recommenders.openai")
    srv.fail_next(2, status=429, retry_after=0.3)
    rec = make(srv, tmp_path / "c.sqlite", max_concurrency=1)
    got = rec.recommend_many(PROFILES[:3], k=3)
    check(got, PROFILES[:3])
    reqs = chat_requests(srv)
    assert [r.status for r in reqs] == [429, 429, 200, 200, 200]
    assert reqs[0].body == reqs[1].body == reqs[2].body
    # the server asked for 0.3 s (retry-after-ms); each retry waited at least that long
    assert reqs[1].time - reqs[0].time >= 0.29
    assert reqs[2].time - reqs[1].time >= 0.29
    assert got[0].diagnostics["attempts"] == 3 and got[1].diagnostics["attempts"] == 1
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and all("HTTP 429" in m and "0.30 s" in m for m in retries)
    assert KEY not in caplog.text


def test_500s_are_retried_with_backoff(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    srv.fail_next(3, status=500, retry_after=None)
    got = make(srv, tmp_path / "c.sqlite", max_concurrency=1).recommend_many(PROFILES[:2], k=3)
    check(got, PROFILES[:2])
    assert [r.status for r in chat_requests(srv)] == [500, 500, 500, 200, 200]


def test_random_failures_never_answer_a_request_twice(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    srv.fail_randomly(0.4, statuses=(429, 500, 503), seed=3, once_per_request_body=True)
    cache = tmp_path / "c.sqlite"
    got = make(srv, cache, max_concurrency=4).recommend_many(PROFILES, k=3)
    check(got, PROFILES)
    reqs = chat_requests(srv)
    failed = [r for r in reqs if r.status != 200]
    assert failed, "the fault plan should have failed some requests"
    answered = Counter(json.dumps(r.body, sort_keys=True) for r in reqs if r.status == 200)
    assert set(answered.values()) == {1} and len(answered) == len(PROFILES)
    stats = ResponseCache(cache).stats()
    assert stats.entries == len(PROFILES) and stats.duplicate_writes == 0
    assert sum(r.diagnostics["attempts"] for r in got) == len(reqs)


def test_client_errors_are_not_retried(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    srv.fail_next(1, status=400, retry_after=None)
    with pytest.raises(BackendError, match=r"HTTP 400 to profile #0"):
        make(srv, tmp_path / "c.sqlite", fail_fast=True).recommend((1, 2), k=3)
    assert len(chat_requests(srv)) == 1


def test_wrong_key_names_the_fix_but_not_the_key(tmp_path: Path) -> None:
    with LocalOpenAIServer(fake_model, api_key="sk-right") as guarded:
        rec = make(guarded, tmp_path / "c.sqlite", api_key="sk-wrong-key-123")
        with pytest.raises(BackendError, match=r"HTTP 401.*OPENAI_API_KEY") as info:
            rec.recommend((1, 2), k=3)
        assert "sk-wrong-key-123" not in str(info.value)
        assert len(guarded.requests) == 1
        rec.close()
    # a server that echoes the rejected key back: the error still does not show it
    srv_body = {"error": {"message": "Incorrect API key provided: sk-wrong-key-123", "code": None}}
    with LocalOpenAIServer(fake_model) as echoing:
        echoing.fail_next(1, status=401, retry_after=None, body=srv_body)
        rec = make(echoing, tmp_path / "c2.sqlite", api_key="sk-wrong-key-123")
        with pytest.raises(BackendError, match=r"HTTP 401.*provided: \*\*\*") as info:
            rec.recommend((1, 2), k=3)
        assert "wrong-key" not in str(info.value)
        rec.close()


def test_an_answer_without_choices_is_an_error_and_not_cached(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    srv.set_chat(lambda body: {"object": "error", "message": "model not loaded"})
    cache = tmp_path / "c.sqlite"
    with pytest.raises(BackendError, match=r"without a 'choices' list.*model not loaded"):
        make(srv, cache, fail_fast=True).recommend((1, 2), k=3)
    assert len(ResponseCache(cache)) == 0


def test_retries_give_up_after_max_retries(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    srv.fail_next(10, status=503, retry_after=None)
    with pytest.raises(BackendError, match=r"HTTP 503"):
        make(srv, tmp_path / "c.sqlite", max_retries=2, fail_fast=True).recommend((1, 2), k=3)
    assert len(chat_requests(srv)) == 3


def test_timeouts_are_retried(tmp_path: Path) -> None:
    # A server of its own: the timed-out request is still being slept on after the test.
    with LocalOpenAIServer(fake_model) as slow:
        slow.slow_next(1, 1.0)
        rec = make(slow, tmp_path / "c.sqlite", timeout=0.3)
        got = rec.recommend((4, 5), k=3)
        assert list(got.movie_ids) == reference((4, 5)) and got.diagnostics["attempts"] == 2
        assert len(chat_requests(slow)) == 2
        slow.slow_next(2, 1.0)
        rec = make(slow, tmp_path / "c.sqlite", timeout=0.3, max_retries=1, fail_fast=True)
        with pytest.raises(BackendError, match=r"after 2 attempts \(timeout 0.3 s\).*timed out"):
            rec.recommend((6, 7), k=3)
        rec.close()


def test_dropped_connections_are_retried(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    srv.drop_next(2)
    got = make(srv, tmp_path / "c.sqlite", max_concurrency=1).recommend_many(PROFILES[:2], k=3)
    check(got, PROFILES[:2])
    assert len(chat_requests(srv)) == 4


def test_concurrency_is_bounded_and_real(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    lock = threading.Lock()
    now = [0]
    peak = [0]

    def counting(body: dict[str, Any]) -> str:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.05)
        with lock:
            now[0] -= 1
        return fake_model(body)

    srv.set_chat(counting)
    got = make(srv, tmp_path / "c.sqlite", max_concurrency=3).recommend_many(PROFILES, k=3)
    check(got, PROFILES)
    assert 2 <= peak[0] <= 3


def test_results_keep_input_order_whatever_finishes_first(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    def uneven(body: dict[str, Any]) -> str:
        time.sleep(0.01 * (13 - max(profile_of(body))))  # earlier profiles answer later
        return fake_model(body)

    srv.set_chat(uneven)
    got = make(srv, tmp_path / "c.sqlite", max_concurrency=6).recommend_many(PROFILES, k=3)
    check(got, PROFILES)


def test_a_failed_run_keeps_what_was_answered(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    def broken_at_five(body: dict[str, Any]) -> str:
        if profile_of(body) == PROFILES[4]:
            raise RuntimeError("boom")
        return fake_model(body)

    srv.set_chat(broken_at_five)
    cache = tmp_path / "c.sqlite"
    with pytest.raises(BackendError, match=r"profile #4"):
        make(srv, cache, max_concurrency=1, max_retries=1, fail_fast=True).recommend_many(
            PROFILES, k=3
        )
    endpoint = srv.base_url + "/chat/completions"
    kept = _cached_keys(cache)
    with sqlite3.connect(cache) as conn:
        kept_profiles = {
            profile_of(json.loads(b)) for (b,) in conn.execute("SELECT request FROM responses")
        }
    # one worker: profiles 0-3 were answered and kept; the failed one was not
    srv.set_chat(fake_model)
    srv.clear_requests()
    check(make(srv, cache).recommend_many(PROFILES, k=3), PROFILES)
    resent = [r.body for r in chat_requests(srv)]
    assert {profile_of(b) for b in resent} == set(PROFILES) - kept_profiles
    assert PROFILES[4] in {profile_of(b) for b in resent}
    assert not {profile_of(b) for b in resent} & set(PROFILES[:4])
    assert all(request_key(endpoint, "gpt-4o-mini-2024-07-18", b) not in kept for b in resent)


_CHILD = """
import json, sys
import numpy as np
from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.recommenders.openai import OpenAIRecommender

spec = json.loads(open(sys.argv[1]).read())
catalog = Catalog(Movie(i, t, y) for i, t, y in spec["catalog"])
ratings = Ratings(np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]"))
rec = OpenAIRecommender(**spec["config"]).fit(ratings, catalog)
rec.recommend_many([tuple(p) for p in spec["profiles"]], 3)
print("finished")
"""


def _cached_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with sqlite3.connect(path, timeout=30) as conn:
        try:
            return {k for (k,) in conn.execute("SELECT key FROM responses")}
        except sqlite3.OperationalError:  # the child has not created the table yet
            return set()


def test_kill_and_resume_pays_for_nothing_twice(tmp_path: Path) -> None:
    profiles = [(i, i + 2) for i in range(1, 31)]
    cache = tmp_path / "c.sqlite"
    with LocalOpenAIServer(fake_model, latency=0.05) as srv:
        spec = {
            "catalog": [[m.movie_id, m.title, m.year] for m in CATALOG],
            "profiles": profiles,
            "config": {
                "base_url": srv.base_url,
                "api_key": KEY,
                "cache": str(cache),
                "max_concurrency": 2,
            },
        }
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        script = tmp_path / "child.py"
        script.write_text(_CHILD)
        child = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "spec.json")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while len(_cached_keys(cache)) < 8 and time.monotonic() < deadline:
                assert child.poll() is None, child.stderr.read() if child.stderr else ""
                time.sleep(0.02)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait()
            for stream in (child.stdout, child.stderr):
                if stream is not None:
                    stream.close()
        assert child.returncode == -signal.SIGKILL
        kept = _cached_keys(cache)
        assert 8 <= len(kept) < len(profiles)
        before = len(srv.requests)

        rec = OpenAIRecommender(**spec["config"]).fit(RATINGS, CATALOG)  # type: ignore[arg-type]
        got = rec.recommend_many(profiles, k=3)
        rec.close()
        check(got, profiles)
        endpoint = srv.base_url + "/chat/completions"
        resent = [
            request_key(endpoint, "gpt-4o-mini-2024-07-18", r.body)
            for r in srv.requests[before:]
            if r.path == CHAT and isinstance(r.body, dict)
        ]
        assert not set(resent) & kept  # nothing already paid for was asked again
        assert len(resent) == len(profiles) - len(kept)
        assert sum(not r.cached for r in got) == len(resent)
        stats = ResponseCache(cache).stats()
        assert stats.entries == len(profiles) and stats.duplicate_writes == 0
        # at most the requests in flight at the kill (max_concurrency) were answered twice
        answered = Counter(
            json.dumps(r.body, sort_keys=True)
            for r in srv.requests
            if r.path == CHAT and r.status == 200
        )
        assert sum(n - 1 for n in answered.values()) <= 2
