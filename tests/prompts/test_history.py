"""Time-ordered histories and the sequential templates: order, styles, the three tasks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.data import Catalog, Movie, Ratings
from llmrec.errors import ConfigError
from llmrec.prompts import (
    TALLREC_INSTRUCTION,
    History,
    HistoryTemplate,
    parse_response,
    user_histories,
)

CATALOG = Catalog(Movie(m, f"Film {m}", 1990 + m) for m in range(1, 30))


def _ratings(rows: list[tuple[int, int, int, int]]) -> Ratings:
    u, m, r, t = (np.asarray(c) for c in zip(*rows, strict=True))
    return Ratings(u, m, r, t // 86_400, time=t)


def test_a_history_is_time_ordered_with_file_order_for_ties() -> None:
    ratings = _ratings([(2, 5, 4, 300), (1, 3, 5, 200), (2, 6, 2, 100), (2, 7, 3, 300)])
    got = user_histories(ratings)
    assert list(got) == [1, 2]
    assert got[2] == History(2, (6, 5, 7), (2, 4, 3), (100, 300, 300), "s")
    assert user_histories(ratings, users=[1]) == {1: History(1, (3,), (5,), (200,), "s")}
    day = Ratings([1, 1], [1, 2], [3, 4], [20, 10])  # no time: the day orders
    assert user_histories(day)[1] == History(1, (2, 1), (4, 3), (10, 20), "D")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 20), st.integers(1, 5), st.integers(0, 5)),
        min_size=1,
        max_size=40,
        unique_by=lambda r: (r[0], r[1]),
    )
)
def test_histories_match_a_stable_sort_of_each_users_rows(rows: list) -> None:
    got = user_histories(_ratings(rows))
    for user, history in got.items():
        mine = sorted((r for r in rows if r[0] == user), key=lambda r: r[3])  # stable
        assert history.movie_ids == tuple(r[1] for r in mine)
        assert history.ratings == tuple(r[2] for r in mine)
    assert sum(len(h) for h in got.values()) == len(rows)


HISTORY = History(9, (1, 2, 3, 4), (5, 2, 4, 3), (1, 2, 3, 4))


def test_the_three_styles() -> None:
    seq = HistoryTemplate(last=3).history_text(HISTORY, CATALOG)
    assert seq.splitlines() == [
        "Movies I watched, oldest first:",
        "1. Film 2 (1992)",
        "2. Film 3 (1993)",
        "3. Film 4 (1994)",
    ]
    rated = HistoryTemplate(style="rated", last=2, include_year=False)
    assert rated.history_text(HISTORY, CATALOG).splitlines()[1:] == [
        "1. Film 3: 4/5",
        "2. Film 4: 3/5",
    ]
    split = HistoryTemplate(style="liked_disliked").history_text(HISTORY, CATALOG)
    assert (
        split == 'User Preference: "Film 1 (1991)", "Film 3 (1993)"\n'
        'User Unpreference: "Film 2 (1992)", "Film 4 (1994)"'
    )


def test_the_three_tasks() -> None:
    tpl = HistoryTemplate()
    rec = tpl.recommend_messages(HISTORY, CATALOG, k=5)
    assert [m["role"] for m in rec] == ["system", "user"]
    assert (
        "Recommend 5 other movies" in rec[0]["content"]
        and "numbered list of 5" in rec[0]["content"]
    )
    rank = tpl.rank_messages(HISTORY, [7, 8], CATALOG)
    assert rank[1]["content"].endswith("Candidate movies (2):\n1. Film 7 (1997)\n2. Film 8 (1998)")
    assert "list of 2 candidate movies" in rank[0]["content"]
    # a model answering in the asked format is read back by the study's parser
    assert parse_response("1. Film 8 (1998)\n2. Film 7 (1997)").titles == ["Film 8", "Film 7"]
    yes_no = HistoryTemplate(style="liked_disliked").yes_no_messages(HISTORY, 5, CATALOG)
    assert yes_no[0]["content"] == TALLREC_INSTRUCTION
    assert yes_no[1]["content"].endswith(
        '\nWhether the user will like the target movie "Film 5 (1995)"?'
    )
    row = HistoryTemplate(style="liked_disliked").alpaca(HISTORY, 5, False, CATALOG)
    assert list(row) == ["instruction", "input", "output"] and row["output"] == "No."


def test_bad_templates_and_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="placeholders"):
        HistoryTemplate(recommend_task="Recommend {count} movies")
    with pytest.raises(ValueError):
        HistoryTemplate(flavour="x")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="k must be"):
        HistoryTemplate().recommend_messages(HISTORY, CATALOG, k=0)
    with pytest.raises(ConfigError, match="n >= 1"):
        HistoryTemplate().rank_messages(HISTORY, [], CATALOG)
    assert HistoryTemplate.model_validate_json(HistoryTemplate(last=3).model_dump_json()).last == 3


def test_the_sequence_style_as_a_prompt_template_for_the_backends() -> None:
    tpl = HistoryTemplate(last=3).prompt_template()
    profile = HISTORY.last(3).movie_ids
    messages = tpl.ranking_messages(profile, [7, 8], CATALOG)
    assert messages[1]["content"].splitlines()[:4] == [
        "Movies I watched, oldest first:",
        "Film 2 (1992)",
        "Film 3 (1993)",
        "Film 4 (1994)",
    ]
    assert "in the order they watched them" in messages[0]["content"]
    assert "Recommend 10 other movies" in tpl.messages(profile, CATALOG)[0]["content"]
    with pytest.raises(ConfigError, match="needs the ratings"):
        HistoryTemplate(style="rated").prompt_template()
