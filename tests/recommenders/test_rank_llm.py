"""Candidate ranking through the language-model pipeline: the official SDK against
``LocalOpenAIServer``. The fake model reads the numbered candidates from the prompt and answers
in the style a test asks for (numbers, titles, JSON, or naming movies that are not candidates)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError
from llmrec.metrics import evaluate_validity
from llmrec.prompts import PromptTemplate
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing.server import LocalOpenAIServer

TITLES = ("Heat", "Casino", "Alien", "Fargo", "Rocky", "Jaws", "Seven", "Brazil", "Gattaca", "Ran")
CATALOG = Catalog(Movie(i + 1, t, 1980 + i) for i, t in enumerate(TITLES))
RATINGS = Ratings([1, 1], [1, 2], [5, 4], np.array(["2005-01-01"] * 2, "M8[D]"))
SECRET = "sk-test-rank-0123456789"
CHAT = "/v1/chat/completions"

# What the fake model does with the shown candidates (list of "Title (Year)" in shown order).
Style = Callable[[list[str]], str]


def shown_candidates(body: dict[str, Any]) -> list[str]:
    user = body["messages"][-1]["content"]
    lines = user.split("\nCandidate movies")[1].splitlines()[1:]
    return [line.split(". ", 1)[1] for line in lines]


def by_number(shown: list[str]) -> str:
    return "\n".join(f"{i}. {n}" for i, n in enumerate(range(len(shown), 0, -1), 1))


def by_title(shown: list[str]) -> str:
    return "\n".join(f"{i}. {t}" for i, t in enumerate(reversed(shown), 1))


def bare_numbers(shown: list[str]) -> str:
    return ", ".join(str(n) for n in range(len(shown), 0, -1))


def first_listed(shown: list[str]) -> str:
    return f"1. {shown[0]}"


STYLE: dict[str, Style] = {"style": by_title}


def fake_model(body: dict[str, Any]) -> str:
    if "Candidate movies" not in body["messages"][-1]["content"]:
        return "1. Ran (1989)"  # a full-catalogue prompt
    shown = shown_candidates(body)
    if "response_format" in body:
        items = [t.rsplit(" (", 1) for t in reversed(shown)]
        return json.dumps({"recommendations": [{"title": t, "year": int(y[:4])} for t, y in items]})
    return STYLE["style"](shown)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(fake_model) as srv:
        yield srv


@pytest.fixture
def srv(server: LocalOpenAIServer) -> Iterator[LocalOpenAIServer]:
    server.reset_failures()
    server.set_chat(fake_model)
    server.clear_requests()
    STYLE["style"] = by_title
    yield server
    STYLE["style"] = by_title


def make(srv: LocalOpenAIServer, cache: Path, **options: Any) -> OpenAIRecommender:
    rec = OpenAIRecommender(base_url=srv.base_url, api_key=SECRET, cache=cache, **options)
    return rec.fit(RATINGS, CATALOG)


def chats(srv: LocalOpenAIServer) -> list[Any]:
    return [r for r in srv.requests if r.path == CHAT]


def test_prompt_lists_the_candidates_numbered_in_order(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    rec = make(srv, tmp_path / "c.sqlite")
    rec.rank((1, 2), (5, 3, 9))
    body = chats(srv)[0].body
    system, user = (m["content"] for m in body["messages"])
    assert "numbered list of 3 candidate movies" in system
    assert "numbered list of the 3 best candidates" in system
    assert user == (
        "My 2 favourite movies, most liked first:\nHeat (1980)\nCasino (1981)\n\n"
        "Candidate movies (3):\n1. Rocky (1984)\n2. Alien (1982)\n3. Gattaca (1988)"
    )


@pytest.mark.parametrize(("style", "how"), [(by_number, "number"), (by_title, "title")])
def test_answers_by_number_and_by_title_resolve(
    srv: LocalOpenAIServer, tmp_path: Path, style: Style, how: str
) -> None:
    STYLE["style"] = style
    rec = make(srv, tmp_path / "c.sqlite")
    got = rec.rank((1,), (4, 7, 2, 10))
    assert got.movie_ids == (10, 2, 7, 4)  # the fake model reverses the shown order
    assert got.scores == (1.0, 1 / 2, 1 / 3, 1 / 4)
    assert got.diagnostics[f"n_by_{how}"] == 4
    assert got.diagnostics["n_invalid"] == 0
    assert got.diagnostics["valid"] is True and got.valid
    assert got.diagnostics["task"] == "rank"


def test_a_bare_list_of_numbers_resolves(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    STYLE["style"] = bare_numbers
    got = make(srv, tmp_path / "c.sqlite").rank((1,), (4, 7, 2))
    assert got.movie_ids == (2, 7, 4)
    assert got.raw_text == "3, 2, 1"


def test_json_output_format(srv: LocalOpenAIServer, tmp_path: Path) -> None:
    rec = make(
        srv,
        tmp_path / "c.sqlite",
        template=PromptTemplate(output_format="json"),
        structured_output=True,
    )
    got = rec.rank((1,), (4, 7, 2), k=2)
    assert "response_format" in chats(srv)[0].body
    assert got.movie_ids == (2, 7)
    assert got.diagnostics["n_beyond_k"] == 1


def test_cache_key_holds_the_candidates_and_their_order(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    cache = tmp_path / "c.sqlite"
    first = make(srv, cache).rank_many([(1,), (1,)], [(4, 7, 2), (4, 7, 2)])
    assert len(chats(srv)) == 1  # equal requests are sent once
    srv.clear_requests()
    again = make(srv, cache).rank((1,), (4, 7, 2))
    assert chats(srv) == [] and again.cached and again.movie_ids == first[0].movie_ids
    reordered = make(srv, cache).rank((1,), (2, 7, 4))
    assert len(chats(srv)) == 1 and not reordered.cached
    assert reordered.diagnostics["request_key"] != first[0].diagnostics["request_key"]
    other = make(srv, cache).rank((1,), (4, 7, 3))
    assert len(chats(srv)) == 2
    assert other.diagnostics["request_key"] != first[0].diagnostics["request_key"]
    # the full-catalogue request of the same profile is another key again
    make(srv, cache).recommend((1,), 3)
    assert len(chats(srv)) == 3


def test_non_candidates_are_invalid_and_lower_strict_not_valid_only(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    cands = {10: (4, 7, 2), 11: (5, 8, 3), 12: (6, 9, 10)}
    answers = {
        # user 10: the right candidate first, then a catalog movie that is no candidate and an
        # invented title: both invalid items, the answer stays valid
        "Fargo (1983)": "1. Fargo (1983)\n2. Heat (1980)\n3. The Unmade Film (2001)",
        # user 11: only movies that are not candidates: the whole answer is invalid
        "Rocky (1984)": "1. Heat (1980)\n2. Casino (1981)\n3. 17",
        # user 12: the right candidate by number
        "Jaws (1985)": "1. 1",
    }

    def model(body: dict[str, Any]) -> str:
        return answers[shown_candidates(body)[0]]

    srv.set_chat(model)
    rec = make(srv, tmp_path / "c.sqlite")
    users = list(cands)
    got = rec.rank_many([(1,)] * 3, [cands[u] for u in users])
    assert got[0].movie_ids == (4,)
    assert got[0].diagnostics["n_invalid"] == 2
    assert got[0].diagnostics["invalid"] == ["Heat (1980)", "The Unmade Film (2001)"]
    assert got[0].valid
    assert got[1].movie_ids == () and not got[1].valid
    assert got[1].diagnostics["valid"] is False and got[1].diagnostics["n_invalid"] == 3
    assert got[2].movie_ids == (6,) and got[2].valid

    truth = {10: {4}, 11: {5}, 12: {6}}
    recs = {u: r.movie_ids for u, r in zip(users, got, strict=True)}
    valid = {u for u, r in zip(users, got, strict=True) if r.valid}
    report = evaluate_validity(recs, truth, valid, ["hit@1"], n_bootstrap=0)
    assert report.n_valid == 2 and report.n_total == 3 and report.invalid_users == [11]
    assert report.strict["hit@1"] == pytest.approx(2 / 3)
    assert report.valid_only["hit@1"] == 1.0
    # without the invalid user, valid-only is unchanged and strict equals it
    fewer = {u: truth[u] for u in (10, 12)}
    alone = evaluate_validity(recs, fewer, valid, ["hit@1"], n_bootstrap=0)
    assert alone.valid_only["hit@1"] == report.valid_only["hit@1"] == alone.strict["hit@1"]


def test_candidates_outside_the_catalog_are_rejected(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    rec = make(srv, tmp_path / "c.sqlite")
    with pytest.raises(ConfigError, match="not in the catalog"):
        rec.rank((1,), (4, 999))
    assert chats(srv) == []
    assert rec.rank((1,), ()).movie_ids == ()


def test_estimate_rank_cost_counts_the_ranking_prompts(
    srv: LocalOpenAIServer, tmp_path: Path
) -> None:
    from llmrec.openai_api.cost import expected_output_tokens
    from llmrec.openai_api.tokens import count_chat_tokens

    rec = make(srv, tmp_path / "c.sqlite")
    lists = [(4, 7, 2), (), (5, 6)]
    est = rec.estimate_rank_cost([(1,), (1,), (2, 3)], lists, None, CATALOG)
    tpl = rec.template
    expected_in = count_chat_tokens(tpl.ranking_messages((1,), (4, 7, 2), CATALOG)) + (
        count_chat_tokens(tpl.ranking_messages((2, 3), (5, 6), CATALOG))
    )
    assert est.requests == 2 and est.input_tokens == expected_in
    assert est.output_tokens == expected_output_tokens(3, catalog=CATALOG) + (
        expected_output_tokens(2, catalog=CATALOG)
    )
    assert est.usd is not None and est.usd > 0
    assert chats(srv) == []  # nothing sent
