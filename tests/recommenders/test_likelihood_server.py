"""Likelihood through an OpenAI-compatible server (the local one, over HTTP with the SDK):
P(Yes) from the first answer token's top log-probabilities, candidate log-probabilities from
vLLM-style prompt log-probabilities, cached; clear errors where the server serves none."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import CapabilityError
from llmrec.prompts import TALLREC_INSTRUCTION
from llmrec.protocols import tallrec
from llmrec.recommenders.llm.transports.base import CONTINUATION_LOGPROBS, NEXT_TOKEN_LOGPROBS
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing import LocalOpenAIServer
from llmrec.testing.openai_server import hashed_logprob, prompt_tokens

CATALOG = Catalog(Movie(i, f"Film {i}", 1990 + i) for i in range(1, 21))
RATINGS = Ratings(np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]"))


def _unit(text: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return (int.from_bytes(digest[:4], "big") + 1) / (2**32 + 1)


def top_tokens(body: dict[str, Any]) -> dict[str, float]:
    """Scripted alternatives: "Yes" spelled two ways, "No." and others, from the question."""
    q = body["messages"][-1]["content"]
    return {
        "Yes": math.log(0.5 * _unit(q, "yes")),
        " Yes": math.log(0.05 * _unit(q, "yes2")),
        "No.": math.log(0.4 * _unit(q, "no")),
        "Maybe": math.log(0.04),
    }


def rows(n: int) -> list[dict[str, str]]:
    return [
        {"instruction": TALLREC_INSTRUCTION, "input": f"question {i}", "output": "Yes."}
        for i in range(n)
    ]


def make(srv: LocalOpenAIServer, cache: Path) -> OpenAIRecommender:
    return OpenAIRecommender(base_url=srv.base_url, api_key="test", cache=cache).fit(
        RATINGS, CATALOG
    )


def test_p_yes_is_computed_from_the_served_logprobs(tmp_path: Path) -> None:
    with LocalOpenAIServer(lambda body: "Yes", logprobs=top_tokens) as srv:
        rec = make(srv, tmp_path / "c.sqlite")
        assert {NEXT_TOKEN_LOGPROBS, CONTINUATION_LOGPROBS} <= rec.likelihood
        got = tallrec.score(rec, rows(12))
        sent = [r.body for r in srv.requests]
        assert len(sent) == 12 and all(b["logprobs"] and b["top_logprobs"] == 20 for b in sent)
        assert all(b["max_tokens"] == 1 for b in sent)
        again = tallrec.score(rec, rows(12))
        assert len(srv.requests) == 12  # every reading came from the cache
    expected = []
    for row in rows(12):
        served = top_tokens({"messages": [{"content": row["input"]}]})
        p_yes = math.exp(served["Yes"]) + math.exp(served[" Yes"])
        p_no = math.exp(served["No."])
        expected.append(math.exp(p_yes) / (math.exp(p_yes) + math.exp(p_no)))
    assert np.allclose(got, expected, rtol=0, atol=1e-12)
    assert np.array_equal(again, got)
    ratio = tallrec.yes_probability(
        rec.option_logprobs([tallrec.chat_messages(r) for r in rows(3)], tallrec.YES_NO), "ratio"
    )
    served = [top_tokens({"messages": [{"content": r["input"]}]}) for r in rows(3)]
    by_hand = [
        (math.exp(s["Yes"]) + math.exp(s[" Yes"]))
        / (math.exp(s["Yes"]) + math.exp(s[" Yes"]) + math.exp(s["No."]))
        for s in served
    ]
    assert np.allclose(ratio, by_hand, atol=1e-12)


def test_a_server_without_logprobs_is_a_capability_error(tmp_path: Path) -> None:
    with (
        LocalOpenAIServer(lambda body: "Yes") as srv,
        pytest.raises(CapabilityError, match="no log-probabilities"),
    ):
        tallrec.score(make(srv, tmp_path / "c.sqlite"), rows(2))


def test_candidate_logprobs_from_prompt_logprobs(tmp_path: Path) -> None:
    conversation = [{"role": "user", "content": "Rank these movies."}]
    answers = ["1. Film 3 (1993)", "1. Film 12 (2002)"]
    with LocalOpenAIServer(lambda body: "", prompt_logprob=hashed_logprob) as srv:
        rec = make(srv, tmp_path / "c.sqlite")
        total, n = rec.continuation_logprobs([conversation] * 2, answers)
        body = srv.requests[0].body
    assert body["prompt_logprobs"] == 1 and body["continue_final_message"] is True
    for answer, t, k in zip(answers, total, n, strict=True):
        tokens = prompt_tokens(
            {
                "messages": [*conversation, {"role": "assistant", "content": answer}],
                "continue_final_message": True,
            }
        )
        tail = tokens[-int(k) :]
        assert "".join(tail).strip() == answer
        first = len(tokens) - int(k)
        assert t == pytest.approx(sum(hashed_logprob(tok, first + j) for j, tok in enumerate(tail)))


def test_a_server_without_prompt_logprobs_is_a_capability_error(tmp_path: Path) -> None:
    with (
        LocalOpenAIServer(lambda body: "") as srv,
        pytest.raises(CapabilityError, match="prompt_logprobs"),
    ):
        make(srv, tmp_path / "c.sqlite").continuation_logprobs(
            [[{"role": "user", "content": "x"}]], ["1. Film 3 (1993)"]
        )


def test_ranking_by_likelihood_through_a_server(tmp_path: Path) -> None:
    profiles = [(1,), (2,)]
    cands = [(3, 5, 7, 9), (6, 4)]
    with LocalOpenAIServer(lambda body: "", prompt_logprob=hashed_logprob) as srv:
        rec = OpenAIRecommender(
            base_url=srv.base_url, api_key="test", cache=tmp_path / "c.sqlite", ranking="likelihood"
        ).fit(RATINGS, CATALOG)
        estimate = rec.estimate_rank_cost(profiles, cands, None, CATALOG)
        got = rec.rank_many(profiles, cands)
        assert estimate.requests == 6 == len(srv.requests)
        assert estimate.output_tokens == 6
        again = rec.rank_many(profiles, cands)
        assert len(srv.requests) == 6  # every reading came from the cache
        top2 = rec.rank_many(profiles, cands, k=2)  # "the 2 best": list 1's prompt changes
    for r, c in zip(got, cands, strict=True):
        assert sorted(r.movie_ids) == sorted(c)
        assert list(r.scores) == sorted(r.scores, reverse=True)
        assert r.diagnostics["ranking"] == "likelihood"
    assert [r.movie_ids for r in again] == [r.movie_ids for r in got]
    assert [len(r.movie_ids) for r in top2] == [2, 2]
    assert top2[1].movie_ids == got[1].movie_ids  # same prompt (k = 2 = its size): same order
