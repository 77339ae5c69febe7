"""Structured output against servers that reject ``response_format`` the way llama.cpp's does:
json_schema -> json_object -> the template's own JSON instructions, the mode used recorded in
each answer's diagnostics, the first rejection deciding for the rest of the run (issue 11,
item 12)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.prompts import PromptTemplate
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing import LocalOpenAIServer

CATALOG = Catalog(Movie(i, f"Film {i}", 1990 + i) for i in range(1, 41))
RATINGS = Ratings(np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]"))
PROFILES = [(i, i + 1) for i in range(1, 31)]
CHAT = "/v1/chat/completions"


def json_answer(body: dict[str, Any]) -> str:
    return json.dumps({"recommendations": [{"title": "Film 33", "year": 2023}]})


def make(srv: LocalOpenAIServer, cache: Path, **options: Any) -> OpenAIRecommender:
    return OpenAIRecommender(
        base_url=srv.base_url,
        api_key="test",
        cache=cache,
        structured_output=True,
        template=PromptTemplate(output_format="json"),
        backoff_base=0.0,
        **options,
    ).fit(RATINGS, CATALOG)


def _formats(srv: LocalOpenAIServer) -> list[tuple[str | None, int | None]]:
    out = []
    for r in srv.requests:
        if r.path == CHAT and isinstance(r.body, dict):
            rf = r.body.get("response_format")
            out.append((rf.get("type") if rf else None, r.status))
    return out


def test_the_local_server_rejects_json_schema_like_llama_cpp() -> None:
    with LocalOpenAIServer(json_answer, reject_response_formats=("json_schema",)) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
        messages: Any = [{"role": "user", "content": "Answer in JSON."}]
        schema: Any = {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}},
        }
        with pytest.raises(openai.InternalServerError, match=r"response_format"):
            client.chat.completions.create(model="m", messages=messages, response_format=schema)
        ok = client.chat.completions.create(
            model="m", messages=messages, response_format={"type": "json_object"}
        )
        assert ok.choices[0].message.content


def test_json_schema_rejected_degrades_to_json_object(tmp_path: Path) -> None:
    with LocalOpenAIServer(json_answer, reject_response_formats=("json_schema",)) as srv:
        got = make(srv, tmp_path / "c.sqlite", max_concurrency=1).recommend_many(PROFILES, k=3)
        assert all(r.movie_ids == (33,) for r in got)
        assert {r.diagnostics["structured_output"] for r in got} == {"json_object"}
        sent = _formats(srv)
        # one rejection decided for the rest of the run
        assert sent[0] == ("json_schema", 500)
        assert sent[1:] == [("json_object", 200)] * len(PROFILES)
        # read back from the cache, the answers still say how they were asked for
        srv.clear_requests()
        again = make(srv, tmp_path / "c.sqlite").recommend_many(PROFILES, k=3)
        assert srv.requests == []
        assert {r.diagnostics["structured_output"] for r in again} == {"json_object"}


def test_both_rejected_degrades_to_the_templates_instructions(tmp_path: Path) -> None:
    rejected = ("json_schema", "json_object")
    with LocalOpenAIServer(json_answer, reject_response_formats=rejected) as srv:
        got = make(srv, tmp_path / "c.sqlite", max_concurrency=1).recommend_many(PROFILES, k=3)
        assert all(r.movie_ids == (33,) for r in got)
        assert {r.diagnostics["structured_output"] for r in got} == {"instructions"}
        sent = _formats(srv)
        assert sent[:2] == [("json_schema", 500), ("json_object", 500)]
        assert sent[2:] == [(None, 200)] * len(PROFILES)


def test_degradation_is_thread_safe(tmp_path: Path) -> None:
    with LocalOpenAIServer(
        json_answer, reject_response_formats=("json_schema",), latency=0.02
    ) as srv:
        got = make(srv, tmp_path / "c.sqlite", max_concurrency=8).recommend_many(PROFILES, k=3)
        assert all(r.movie_ids == (33,) for r in got)
        assert {r.diagnostics["structured_output"] for r in got} == {"json_object"}
        sent = _formats(srv)
        rejected = [s for s in sent if s[1] == 500]
        # at most the requests already in flight when the first rejection came back
        assert 1 <= len(rejected) <= 8
        assert all(s == ("json_schema", 500) for s in rejected)
        assert sum(1 for s in sent if s == ("json_object", 200)) == len(PROFILES)


def test_a_server_that_accepts_json_schema_keeps_it(tmp_path: Path) -> None:
    with LocalOpenAIServer(json_answer) as srv:
        got = make(srv, tmp_path / "c.sqlite").recommend_many(PROFILES[:3], k=3)
        assert {r.diagnostics["structured_output"] for r in got} == {"json_schema"}
        assert {s for s in _formats(srv)} == {("json_schema", 200)}


def test_an_ordinary_server_error_does_not_degrade(tmp_path: Path) -> None:
    with LocalOpenAIServer(json_answer) as srv:
        srv.fail_next(1, status=500, retry_after=0.0)
        got = make(srv, tmp_path / "c.sqlite", max_concurrency=1).recommend_many(PROFILES[:3], k=3)
        assert {r.diagnostics["structured_output"] for r in got} == {"json_schema"}
