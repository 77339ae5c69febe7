"""A damaged response cache gives an llmrec error naming the file and how to recover, and a
cached answer passes the same checks as a live one (issue 11, item 8)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import DataFormatError, LLMRecError
from llmrec.recommenders.llm.cache import ResponseCache
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing import LocalOpenAIServer

CATALOG = Catalog(Movie(i, f"Film {i}", 1990 + i) for i in range(1, 21))
RATINGS = Ratings(np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]"))


@pytest.fixture
def srv() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(lambda body: "1. Film 11 (2001)") as server:
        yield server


def make(srv: LocalOpenAIServer, cache: Path, **options: Any) -> OpenAIRecommender:
    return OpenAIRecommender(base_url=srv.base_url, api_key="test", cache=cache, **options).fit(
        RATINGS, CATALOG
    )


def _fill(srv: LocalOpenAIServer, cache: Path) -> OpenAIRecommender:
    rec = make(srv, cache)
    rec.recommend((1, 2), k=2)
    rec.close()
    return rec


def test_a_corrupt_row_names_the_file_the_row_and_the_fix(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    cache = tmp_path / "c.sqlite"
    _fill(srv, cache)
    with sqlite3.connect(cache) as conn:
        (key,) = conn.execute("SELECT key FROM responses").fetchone()
        conn.execute("UPDATE responses SET response = '{\"choices\": [trunc'")
    conn.close()
    with pytest.raises(DataFormatError) as info:
        make(srv, cache).recommend((1, 2), k=2)
    text = str(info.value)
    assert str(cache) in text and key in text and "delete" in text
    # the fix the message gives works: the row is asked for again
    ResponseCache(cache).discard([key])
    assert make(srv, cache).recommend((1, 2), k=2).movie_ids == (11,)


def test_a_cached_answer_is_checked_like_a_live_one(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    # live, an answer without choices is rejected (a failed answer, never cached)
    srv.set_chat(lambda body: {})
    live = make(srv, tmp_path / "live.sqlite").recommend((1, 2), k=2)
    assert "without a 'choices' list" in live.diagnostics["failed"]
    # the same answer found in the cache is rejected too, naming the file and the fix
    cache = tmp_path / "c.sqlite"
    srv.set_chat(lambda body: "1. Film 11 (2001)")
    _fill(srv, cache)
    with sqlite3.connect(cache) as conn:
        conn.execute("UPDATE responses SET response = '{}'")
    conn.close()
    srv.clear_requests()
    with pytest.raises(DataFormatError, match=r"without a 'choices' list") as info:
        make(srv, cache).recommend((1, 2), k=2)
    assert str(cache) in str(info.value) and "discard" in str(info.value)
    assert srv.requests == []


def test_a_corrupt_cache_file_names_the_file(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    rec = make(srv, cache)
    rec.recommend_many([(i, i + 1) for i in range(1, 19)], k=2)
    rec.close()
    with sqlite3.connect(cache) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = bytearray(cache.read_bytes())
    page = int.from_bytes(raw[16:18], "big")
    assert len(raw) > 3 * page
    # the schema pages stay readable: the damage is found by the first look-up
    raw[2 * page :] = b"\xa5" * (len(raw) - 2 * page)
    cache.write_bytes(bytes(raw))
    with pytest.raises(LLMRecError) as info:
        make(srv, cache).recommend((1, 2), k=2)
    assert str(cache) in str(info.value) and "delete" in str(info.value)


def test_garbage_instead_of_a_cache_file(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    cache.write_bytes(b"this is not a database" * 300)
    with pytest.raises(LLMRecError) as info:
        make(srv, cache).recommend((1, 2), k=2)
    assert str(cache) in str(info.value) and "delete" in str(info.value)
