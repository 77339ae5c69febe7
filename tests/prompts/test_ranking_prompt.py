"""The candidate-ranking variant of PromptTemplate; the full-catalogue prompt is unchanged."""

from __future__ import annotations

import json

import pytest

from llmrec.data.catalog import Catalog, Movie
from llmrec.errors import ConfigError
from llmrec.prompts import DEFAULT_CANDIDATES_INTRO, DEFAULT_RANKING_TASK, PromptTemplate

CATALOG = Catalog([Movie(1, "Heat", 1995), Movie(2, "Ran", 1985), Movie(3, "Zoo", None)])


def test_full_catalogue_prompt_and_dump_are_unchanged() -> None:
    tpl = PromptTemplate()
    assert tpl.messages((1,), CATALOG, k=2) == [
        {
            "role": "system",
            "content": (
                "You are a movie recommendation system. You are given the favourite movies of a "
                "user, most liked first. Recommend 2 other movies this user is likely to watch "
                "and enjoy, most likely first.\n\nAnswer with a numbered list of 2 movies, best "
                'first, one per line, each written as "1. Title (Year)". Write nothing else.'
            ),
        },
        {"role": "user", "content": "My 1 favourite movies, most liked first:\nHeat (1995)"},
    ]
    # no ranking field appears in the dump of a template that does not set one
    assert set(tpl.model_dump()) == {
        "task",
        "output_format",
        "format_text",
        "profile_intro",
        "n_recommendations",
        "include_year",
    }


def test_ranking_messages() -> None:
    tpl = PromptTemplate()
    system, user = tpl.ranking_messages((1,), (3, 2), CATALOG)
    assert system["content"] == (
        DEFAULT_RANKING_TASK.format(n=2)
        + "\n\nAnswer with a numbered list of the 2 best candidates, best first, one per line, "
        'each written as "1. Title (Year)" as listed. Write nothing else.'
    )
    assert user["content"] == (
        "My 1 favourite movies, most liked first:\nHeat (1995)\n\n"
        f"{DEFAULT_CANDIDATES_INTRO.format(n=2)}\n1. Zoo\n2. Ran (1985)"
    )
    json_tpl = PromptTemplate(output_format="json", include_year=False)
    assert "listing the 1 best candidates" in json_tpl.ranking_system_text(2, k=1)
    assert json_tpl.ranking_user_text((), (2,), CATALOG).endswith("\n1. Ran")


def test_custom_ranking_texts_round_trip() -> None:
    tpl = PromptTemplate(ranking_task="Order these {n} films; give {k}.", candidates_intro="Pick:")
    assert tpl.ranking_system_text(4, 2).startswith("Order these 4 films; give 2.")
    assert "Pick:\n1. Heat (1995)" in tpl.ranking_user_text((), (1,), CATALOG)
    again = PromptTemplate.model_validate_json(tpl.model_dump_json())
    assert again == tpl and json.loads(tpl.model_dump_json())["candidates_intro"] == "Pick:"
    with pytest.raises(ValueError, match="placeholders"):
        PromptTemplate(ranking_task="{x}")
    with pytest.raises(ValueError, match="placeholders"):
        PromptTemplate(candidates_intro="{k}")
    with pytest.raises(ConfigError):
        tpl.ranking_system_text(0)
