"""PromptTemplate: the study's prompt, custom templates, strict JSON Schema, parse round trips."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import Catalog
from llmrec.prompts import PromptTemplate, parse_response, recommendation_schema

CATALOG = Catalog.from_mapping(
    {
        1: ("Heat", 1995),
        2: ("Amélie", 2001),
        3: ("Pride & Prejudice", 2005),
        4: ("Crouching Tiger, Hidden Dragon", 2000),
        5: ("Untitled Project", None),
    }
)


def test_default_is_the_studys_prompt() -> None:
    tpl = PromptTemplate()
    messages = tpl.messages([1, 2, 3], CATALOG)
    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = messages[0]["content"], messages[1]["content"]
    assert system.startswith("You are a movie recommendation system.")
    assert "Recommend 10 other movies" in system
    assert '"1. Title (Year)"' in system
    assert user.splitlines() == [
        "My 3 favourite movies, most liked first:",
        "Heat (1995)",
        "Amélie (2001)",
        "Pride & Prejudice (2005)",
    ]
    assert tpl.response_format() is None


def test_target_and_training_example() -> None:
    tpl = PromptTemplate()
    assert (
        tpl.target([4, 5], CATALOG)
        == "1. Crouching Tiger, Hidden Dragon (2000)\n2. Untitled Project"
    )
    example = tpl.training_example([1], [4, 5], CATALOG)
    assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
    assert example["messages"][2]["content"] == tpl.target([4, 5], CATALOG)


def test_json_target_and_k() -> None:
    tpl = PromptTemplate(output_format="json", n_recommendations=5)
    assert json.loads(tpl.target([2, 5], CATALOG)) == {
        "recommendations": [
            {"title": "Amélie", "year": 2001},
            {"title": "Untitled Project", "year": None},
        ]
    }
    assert "listing 5 movies" in tpl.system_text()
    assert "listing 3 movies" in tpl.messages([1], CATALOG, k=3)[0]["content"]


def test_without_years() -> None:
    tpl = PromptTemplate(include_year=False)
    assert tpl.user_text([1, 2], CATALOG).splitlines()[1:] == ["Heat", "Amélie"]
    assert tpl.target([1], CATALOG) == "1. Heat"
    assert '"1. Title"' in tpl.system_text()


def test_custom_texts_and_placeholder_checks() -> None:
    tpl = PromptTemplate(
        task="Suggest {k} films.",
        format_text="One per line, {k} lines, like {{this}}.",
        profile_intro="Liked ({n}):",
    )
    assert tpl.system_text(4) == "Suggest 4 films.\n\nOne per line, 4 lines, like {this}."
    assert tpl.user_text([1], CATALOG).startswith("Liked (1):")
    with pytest.raises(pydantic.ValidationError, match="placeholders"):
        PromptTemplate(task="Suggest {count} films")
    with pytest.raises(pydantic.ValidationError, match="placeholders"):
        PromptTemplate(profile_intro="{k} movies")
    with pytest.raises(pydantic.ValidationError):
        PromptTemplate(output_format="yaml")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError):
        PromptTemplate(temperature=0.2)  # type: ignore[call-arg]


def test_config_round_trips_through_json() -> None:
    tpl = PromptTemplate(output_format="json", n_recommendations=7, include_year=False)
    assert PromptTemplate.model_validate_json(tpl.model_dump_json()) == tpl


def _objects(schema: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            found.append(schema)
        for value in schema.values():
            found.extend(_objects(value))
    elif isinstance(schema, list):
        for value in schema:
            found.extend(_objects(value))
    return found


def test_response_format_obeys_strict_mode() -> None:
    fmt = PromptTemplate(output_format="json").response_format()
    assert fmt is not None
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["strict"] is True
    assert len(spec["name"]) <= 64 and spec["name"].replace("_", "").isalnum()
    schema = spec["schema"]
    assert schema == recommendation_schema()
    assert schema["type"] == "object"  # object root
    objects = _objects(schema)
    assert len(objects) == 2
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])
    year = schema["properties"]["recommendations"]["items"]["properties"]["year"]
    assert year["type"] == ["integer", "null"]


# -- round trip: whatever the catalog, parse(target(gold)) gives back the titles ----------------
word = st.text(
    alphabet=st.sampled_from(
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéüñøçÅ0123456789")
    ),
    min_size=1,
    max_size=8,
).filter(lambda w: any(c.isalpha() for c in w))
joiner = st.sampled_from([" ", " ", " ", ": ", " & ", ", ", "-", "'s "])


@st.composite
def titles(draw: st.DrawFn) -> str:
    words = draw(st.lists(word, min_size=1, max_size=6))
    out = words[0]
    for w in words[1:]:
        out += draw(joiner) + w
    return out


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    entries = draw(
        st.lists(
            st.tuples(titles(), st.one_of(st.none(), st.integers(1900, 2025))),
            min_size=1,
            max_size=15,
        )
    )
    return Catalog.from_mapping({i + 1: e for i, e in enumerate(entries)})


@given(catalogs(), st.sampled_from(["numbered", "json"]), st.booleans(), st.data())
def test_parse_inverts_target(
    catalog: Catalog, fmt: str, include_year: bool, data: st.DataObject
) -> None:
    ids = [m.movie_id for m in catalog]
    gold = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=12, unique=True))
    tpl = PromptTemplate(output_format=fmt, include_year=include_year)  # type: ignore[arg-type]
    parsed = tpl.parse(tpl.target(gold, catalog))
    # Reference: the gold list with later repeats of a (title, year) removed, as documented.
    expected: list[tuple[str, int | None]] = []
    for m in gold:
        pair = (catalog.title(m), catalog.year(m) if include_year else None)
        key = " ".join("".join(c if c.isalnum() else " " for c in pair[0].casefold()).split())
        clash = [
            e
            for e in expected
            if " ".join("".join(c if c.isalnum() else " " for c in e[0].casefold()).split()) == key
            and (e[1] == pair[1] or e[1] is None or pair[1] is None)
        ]
        if not clash:
            expected.append(pair)
    assert [(i.title, i.year) for i in parsed.items] == expected
    assert parsed.format == fmt
    assert parsed.valid and not parsed.truncated and not parsed.dropped
    assert parsed.duplicates == len(gold) - len(expected)


@given(st.text(max_size=400))
def test_parse_never_raises(text: str) -> None:
    parsed = parse_response(text)
    assert parsed.valid == bool(parsed.items)
    assert all(item.title.strip() for item in parsed.items)


json_ish = st.text(
    alphabet=st.sampled_from(list('{}[]",:0123456789 \n\ttitleyar-*#.()`')), max_size=300
)


@given(json_ish)
def test_parse_never_raises_on_json_like_noise(text: str) -> None:
    parsed = parse_response(text)
    assert parsed.format in {"numbered", "bulleted", "json", "lines", "empty"}


def test_parse_accepts_non_strings() -> None:
    assert parse_response(None).format == "empty"
    assert not parse_response(b"1. Heat (1995)").valid
