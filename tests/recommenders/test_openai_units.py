"""The pieces under the ``openai`` backend: response cache, request keys, retries, bounded map."""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.errors import ConfigError
from llmrec.openai_api.retry import (
    RetryPolicy,
    Transient,
    call_with_retries,
    retry_after_seconds,
)
from llmrec.recommenders.llm.cache import ResponseCache, canonical_json, request_key
from llmrec.recommenders.llm.concurrency import map_bounded

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
bodies = st.dictionaries(st.text(max_size=6), json_values, max_size=5)


# -- request keys ------------------------------------------------------------------------------
@given(bodies, st.randoms(use_true_random=False))
def test_request_key_ignores_key_order(body: dict[str, Any], rnd: random.Random) -> None:
    items = list(body.items())
    rnd.shuffle(items)
    assert request_key("http://h/v1/chat/completions", "m", dict(items)) == request_key(
        "http://h/v1/chat/completions", "m", body
    )


@given(bodies)
def test_request_key_is_sha256_of_the_canonical_triple(body: dict[str, Any]) -> None:
    text = json.dumps(
        {"body": body, "endpoint": "e", "model": "m"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert request_key("e", "m", body) == hashlib.sha256(text.encode()).hexdigest()
    assert canonical_json(body) == json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_request_key_changes_with_each_part() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    base = request_key("http://a/v1/chat/completions", "m", body)
    assert request_key("http://b/v1/chat/completions", "m", body) != base
    assert request_key("http://a/v1/chat/completions", "m2", body) != base
    assert request_key("http://a/v1/chat/completions", "m", {**body, "temperature": 1}) != base


# -- the cache --------------------------------------------------------------------------------
def put(cache: ResponseCache, key: str, answer: str = "ok", **extra: Any) -> bool:
    return cache.put(
        key,
        endpoint="http://h/v1/chat/completions",
        model="m",
        request={"model": "m", "n": key},
        response={"choices": [{"message": {"content": answer}}]},
        **extra,
    )


def test_cache_round_trip_and_first_answer_wins(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "sub" / "c.sqlite") as cache:
        assert cache.get("a") is None and len(cache) == 0
        assert put(cache, "a", "first", prompt_tokens=10, completion_tokens=3, cost_usd=0.5)
        assert not put(cache, "a", "second")
        hit = cache.get("a")
        assert hit is not None
        assert hit.response["choices"][0]["message"]["content"] == "first"
        assert (hit.prompt_tokens, hit.completion_tokens, hit.cost_usd) == (10, 3, 0.5)
        assert "a" in cache and "b" not in cache
        stats = cache.stats()
        assert (stats.entries, stats.prompt_tokens, stats.duplicate_writes) == (1, 10, 1)
    # a new handle (another process) sees the committed answer
    again = ResponseCache(tmp_path / "sub" / "c.sqlite")
    assert again.get("a") is not None
    again.close()


def test_get_many_over_the_parameter_limit(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        for i in range(0, 2500, 2):
            put(cache, f"k{i}")
        found = cache.get_many(f"k{i}" for i in range(2500))
        assert set(found) == {f"k{i}" for i in range(0, 2500, 2)}


def test_cache_is_safe_across_threads(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    results: list[bool] = []

    def writer(offset: int) -> None:
        for i in range(50):
            results.append(put(cache, f"k{(offset + i) % 120}"))

    threads = [threading.Thread(target=writer, args=(t * 30,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = cache.stats()
    assert stats.entries == 120 == sum(results)
    assert stats.duplicate_writes == 8 * 50 - 120
    cache.close()


def test_a_corrupt_cache_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="cannot open the response cache"):
        ResponseCache(path).get("a")


# -- retries ----------------------------------------------------------------------------------
@given(st.integers(0, 20), st.floats(0.001, 5), st.floats(0.01, 60), st.integers(0, 2**32))
def test_backoff_is_equal_jitter_within_its_cap(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap)
    d = policy.delay(attempt, None, random.Random(seed))
    bound = min(cap, base * 2.0**attempt)
    assert bound / 2 <= d <= bound
    assert d == policy.delay(attempt, None, random.Random(seed))  # seeded: reproducible


@given(st.floats(-10, 500))
def test_retry_after_is_used_as_given_within_bounds(seconds: float) -> None:
    policy = RetryPolicy(max_retry_after=120.0)
    assert policy.delay(3, seconds, random.Random(0)) == min(max(seconds, 0.0), 120.0)


def test_retry_after_headers() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    got = retry_after_seconds({"retry-after": when})
    assert got is not None and 25 <= got <= 31
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after_seconds({"retry-after": past}) == 0.0


class Flaky(Exception):
    pass


def test_call_with_retries_counts_attempts_and_sleeps() -> None:
    outcomes: list[Any] = [Flaky(), Flaky(), "done"]
    slept: list[float] = []

    def fn() -> str:
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return str(item)

    def classify(exc: BaseException) -> Transient | None:
        return Transient("flaky", 0.5) if isinstance(exc, Flaky) else None

    result = call_with_retries(
        fn,
        classify=classify,
        policy=RetryPolicy(max_retries=5),
        rng=random.Random(0),
        label="t",
        sleep=slept.append,
    )
    assert result == ("done", 3) and slept == [0.5, 0.5]


def test_call_with_retries_gives_up_and_reraises() -> None:
    calls = [0]

    def fn() -> str:
        calls[0] += 1
        raise Flaky("always")

    with pytest.raises(Flaky):
        call_with_retries(
            fn,
            classify=lambda e: Transient("x", None),
            policy=RetryPolicy(max_retries=2, base_delay=0.0),
            rng=random.Random(0),
            label="t",
            sleep=lambda s: None,
        )
    assert calls[0] == 3
    calls[0] = 0
    with pytest.raises(Flaky):  # not transient: no retry
        call_with_retries(
            fn,
            classify=lambda e: None,
            policy=RetryPolicy(),
            rng=random.Random(0),
            label="t",
            sleep=lambda s: None,
        )
    assert calls[0] == 1


# -- bounded map ------------------------------------------------------------------------------
@given(st.lists(st.integers(), max_size=40), st.integers(1, 8))
def test_map_bounded_equals_map(items: list[int], workers: int) -> None:
    done: list[int] = []
    got = map_bounded(
        lambda x: x * x, items, max_workers=workers, on_done=lambda i, r: done.append(i)
    )
    assert got == [x * x for x in items]
    assert sorted(done) == list(range(len(items)))


def test_map_bounded_stops_starting_calls_after_a_failure() -> None:
    started: list[int] = []

    def fn(x: int) -> int:
        started.append(x)
        if x == 3:
            raise ValueError("three")
        time.sleep(0.01)
        return x

    with pytest.raises(ValueError, match="three"):
        map_bounded(fn, list(range(200)), max_workers=2)
    assert len(started) < 20


@given(st.integers(1, 40), st.integers(1, 8))
def test_map_bounded_never_runs_more_than_max_workers_at_once(n: int, workers: int) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]
    callers: set[int] = set()

    def fn(x: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.0005)
        with lock:
            running[0] -= 1
        return -x

    got = map_bounded(
        fn,
        list(range(n)),
        max_workers=workers,
        on_done=lambda i, r: callers.add(threading.get_ident()),
    )
    assert got == [-x for x in range(n)]
    assert 1 <= peak[0] <= min(workers, n)
    assert callers == {threading.get_ident()}  # on_done runs in the calling thread


def test_map_bounded_lets_running_calls_finish_after_a_failure() -> None:
    all_started = threading.Barrier(3, timeout=10)
    finished: list[int] = []

    def fn(x: int) -> int:
        all_started.wait()
        if x == 0:
            raise ValueError("zero")
        time.sleep(0.05)  # still running when the failure reaches the caller
        finished.append(x)
        return x

    with pytest.raises(ValueError, match="zero"):
        map_bounded(fn, [0, 1, 2, 3, 4], max_workers=3)
    # the calls running at the failure completed before it was raised; none started after it
    assert sorted(finished) == [1, 2]


def test_call_with_retries_does_not_sleep_for_a_zero_retry_after() -> None:
    outcomes: list[Any] = [Flaky(), "done"]
    slept: list[float] = []

    def fn() -> str:
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return str(item)

    result = call_with_retries(
        fn,
        classify=lambda e: Transient("flaky", 0.0),
        policy=RetryPolicy(max_retries=3),
        rng=random.Random(0),
        label="t",
        sleep=slept.append,
    )
    assert result == ("done", 2) and slept == []


def test_a_stored_answer_is_committed_for_other_connections(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    assert cache.put("k1", endpoint="e", model="m", request={"a": 1}, response={"b": 2})
    with sqlite3.connect(path) as other:  # a second connection sees it: no open transaction
        rows = other.execute("SELECT key, request, response, n_writes FROM responses").fetchall()
    assert rows == [("k1", '{"a":1}', '{"b":2}', 1)]
    assert not cache.put("k1", endpoint="e", model="m", request={"a": 1}, response={"b": 3})
    with sqlite3.connect(path) as other:
        rows = other.execute("SELECT response, n_writes FROM responses").fetchall()
    assert rows == [('{"b":2}', 2)]
    assert cache.stats().duplicate_writes == 1
    cache.close()
