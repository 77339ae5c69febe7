"""Preference pairs and files: builders, export, read-back, round trip through the validator."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.data import Catalog, Ratings
from llmrec.errors import ConfigError, DataFormatError
from llmrec.finetune import (
    PairSummary,
    build_preference_pairs,
    export_chat_jsonl,
    export_preference_jsonl,
    load_answers,
    read_preference_jsonl,
    validate_preference_jsonl,
)
from llmrec.prompts import PromptTemplate, parse_response
from llmrec.recommenders import Recommendation
from llmrec.truth import Example, ProfileDataset

N_MOVIES = 40
CATALOG = Catalog.from_mapping(
    {m: (f"Film Number {m}" if m != 7 else "Amélie", 1950 + m) for m in range(1, N_MOVIES + 1)}
)
LABEL_TO_ID = {CATALOG.label(m): m for m in range(1, N_MOVIES + 1)}


def make_world(seed: int, n_users: int = 12) -> tuple[ProfileDataset, Ratings]:
    """Users who rated 5-15 movies (their profile among them) and a gold of unrated ones;
    movie m is rated by many other users when m is small (popularity falls with the id)."""
    rng = np.random.default_rng(seed)
    users, movies = [], []
    examples = []
    for u in range(n_users):
        rated = rng.choice(np.arange(1, N_MOVIES + 1), size=int(rng.integers(5, 16)), replace=False)
        unrated = np.setdiff1d(np.arange(1, N_MOVIES + 1), rated)
        gold = rng.choice(unrated, size=int(rng.integers(1, 8)), replace=False)
        users += [1000 + u] * rated.size
        movies += rated.tolist()
        examples.append(Example(1000 + u, tuple(rated[:5].tolist()), tuple(gold.tolist()), 3))
    for m in range(1, N_MOVIES + 1):  # background users: movie m rated by N_MOVIES + 1 - m
        users += list(range(5000, 5000 + N_MOVIES + 1 - m))
        movies += [m] * (N_MOVIES + 1 - m)
    n = len(users)
    ratings = Ratings(users, movies, np.full(n, 5), np.zeros(n, dtype=np.int64))
    return ProfileDataset(examples, {"name": "toy"}), ratings


def rated_by(ratings: Ratings, user: int) -> set[int]:
    return set(ratings.movie_id[ratings.user_id == user].tolist())


def ids_of(text: str) -> list[int]:
    return [LABEL_TO_ID[item.label()] for item in parse_response(text).items]


# -- popularity and random ------------------------------------------------------------------------
def test_popularity_rejects_are_the_most_rated_unrated_non_gold_movies() -> None:
    dataset, ratings = make_world(0)
    pairs, summary = build_preference_pairs(
        dataset, PromptTemplate(), CATALOG, rejected="popularity", ratings=ratings
    )
    assert summary.n_pairs == len(pairs) == len(dataset) and summary.dropped == {}
    counts = np.bincount(ratings.movie_id, minlength=N_MOVIES + 1)
    for pair, example in zip(pairs, dataset, strict=True):
        skip = rated_by(ratings, example.user_id) | set(example.gold) | set(example.profile)
        reference = sorted(
            (m for m in range(1, N_MOVIES + 1) if m not in skip), key=lambda m: (-counts[m], m)
        )[: len(example.gold)]
        assert ids_of(pair.rejected) == reference
        assert pair.chosen == PromptTemplate().target(example.gold, CATALOG)
        assert pair.prompt == PromptTemplate().messages(example.profile, CATALOG)


def test_popularity_with_large_movie_ids_counts_the_same() -> None:
    """Movie ids too large for a bincount take the sorting path; the ranking is the same."""
    shift = 100_000_000
    big = Catalog.from_mapping({m + shift: (f"Film {m}", 2000) for m in range(1, 6)})
    dataset = ProfileDataset([Example(1, (1 + shift,), (2 + shift,), 0)])
    movies = [1, 2, 3, 4, 4, 4, 5, 5, 3, 3, 3]
    users = [1, 1, 7, 7, 8, 9, 7, 8, 8, 9, 6]
    ratings = Ratings(users, [m + shift for m in movies], np.full(11, 4), np.zeros(11))
    pairs, _ = build_preference_pairs(
        dataset, PromptTemplate(), big, rejected="popularity", ratings=ratings
    )
    assert pairs[0].rejected == "1. Film 3 (2000)"  # 3 has four ratings, 4 three, 5 two


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["popularity", "random"]), st.integers(0, 99))
def test_rejects_never_name_a_rated_movie_and_never_equal_the_chosen(
    world_seed: int, source: str, seed: int
) -> None:
    dataset, ratings = make_world(world_seed)
    pairs, summary = build_preference_pairs(
        dataset, PromptTemplate(), CATALOG, rejected=source, ratings=ratings, seed=seed
    )
    assert summary.n_pairs + sum(summary.dropped.values()) == summary.n_examples == len(dataset)
    by_user = {e.user_id: e for e in dataset}
    for pair in pairs:
        assert pair.chosen != pair.rejected
        example = by_user[pair.user_id]
        rejected = ids_of(pair.rejected)
        assert not set(rejected) & rated_by(ratings, pair.user_id)
        assert not set(rejected) & set(example.gold)
        assert len(rejected) == len(set(rejected)) == len(example.gold)  # same length as gold


def test_random_rejects_depend_on_the_seed_and_user_only() -> None:
    dataset, ratings = make_world(3)
    template = PromptTemplate()

    def rejected(ds: ProfileDataset, seed: int) -> dict[int, str]:
        pairs, _ = build_preference_pairs(
            ds, template, CATALOG, rejected="random", ratings=ratings, seed=seed
        )
        return {p.user_id: p.rejected for p in pairs}

    first = rejected(dataset, 7)
    assert rejected(dataset, 7) == first
    reversed_order = ProfileDataset(list(reversed(dataset.examples)), dataset.meta)
    assert rejected(reversed_order, 7) == first  # a user's draw ignores the others
    assert rejected(dataset[:4], 7) == {u: first[u] for u in dataset.user_ids[:4]}
    assert rejected(dataset, 8) != first


@pytest.mark.parametrize("source", ["popularity", "random"])
def test_same_seed_same_bytes(tmp_path: Path, source: str) -> None:
    dataset, ratings = make_world(11)
    paths = []
    for name in ("a.jsonl", "b.jsonl"):
        export_preference_jsonl(
            dataset, PromptTemplate(), CATALOG, tmp_path / name, rejected=source, ratings=ratings
        )
        paths.append(tmp_path / name)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_user_with_nothing_left_to_reject_is_counted() -> None:
    everything = tuple(range(1, N_MOVIES + 1))
    dataset = ProfileDataset([Example(1, (1, 2), (3,), 0), Example(2, (4, 5), (6,), 0)])
    n = len(everything)
    ratings = Ratings([1] * n + [2, 2], [*everything, 4, 5], np.full(n + 2, 4), np.zeros(n + 2))
    pairs, summary = build_preference_pairs(
        dataset, PromptTemplate(), CATALOG, rejected="random", ratings=ratings
    )
    assert [p.user_id for p in pairs] == [2]
    assert summary.dropped == {"no_candidates": 1}


# -- model and hallucinated ---------------------------------------------------------------------
def answer_world() -> tuple[ProfileDataset, dict[int, str]]:
    tpl = PromptTemplate()
    dataset = ProfileDataset(
        [
            Example(1, (1, 2), (3, 4), 0),
            Example(2, (1, 2), (3, 4), 0),
            Example(3, (1, 2), (3, 4), 0),
            Example(4, (1, 2), (3, 4), 0),
            Example(5, (1, 2), (3, 4), 0),
        ]
    )
    answers = {
        1: tpl.target((5, 6), CATALOG),  # a different, real list
        2: tpl.target((3, 4), CATALOG),  # the gold, exactly
        3: "Here you go:\n1. Film Number 3 (1953)\n2. Film Number 4 (1954)",  # gold, other words
        4: "1. Film Number 5 (1955)\n2. The Invented Movie (2031)",  # one hallucination
        # user 5: no answer
    }
    return dataset, answers


def test_model_source_keeps_answers_that_differ_from_the_gold() -> None:
    dataset, answers = answer_world()
    pairs, summary = build_preference_pairs(
        dataset, PromptTemplate(), CATALOG, rejected="model", answers=answers
    )
    assert {p.user_id: p.rejected for p in pairs} == {1: answers[1], 4: answers[4]}
    assert summary.dropped == {"identical": 1, "same_as_gold": 1, "no_answer": 1}
    assert summary.n_examples == 5 and summary.n_pairs == 2
    assert all(p.chosen != p.rejected for p in pairs)


def test_hallucinated_source_keeps_answers_with_unresolvable_titles() -> None:
    dataset, answers = answer_world()
    pairs, summary = build_preference_pairs(
        dataset, PromptTemplate(), CATALOG, rejected="hallucinated", answers=answers
    )
    assert [p.user_id for p in pairs] == [4]
    assert summary.dropped == {
        "identical": 1,
        "same_as_gold": 1,
        "no_answer": 1,
        "no_hallucination": 1,
    }


def test_answers_from_an_experiment_recommendations_file(tmp_path: Path) -> None:
    """The file an experiment writes per backend: user_id + Recommendation.to_dict()."""
    recs = {
        1: Recommendation((5, 6), (1.0, 0.5), raw_text="1. Film Number 5 (1955)\n2. Zzz (2040)",
           diagnostics={"unresolved": ["Zzz (2040)"], "n_unresolved": 1}),
        2: Recommendation((5,), (1.0,), raw_text="1. Film Number 5 (1955)",
           diagnostics={"unresolved": [], "n_unresolved": 0}),
        3: Recommendation((3, 4), (1.0, 0.5), raw_text="3 and 4, surely", diagnostics={}),
    }  # fmt: skip
    path = tmp_path / "openai-fine-tuned.jsonl"
    path.write_text(
        "".join(
            json.dumps({"user_id": u, **r.to_dict()}, sort_keys=True) + "\n"
            for u, r in recs.items()
        )
    )
    loaded = load_answers(path)
    assert loaded == recs
    dataset = ProfileDataset([Example(u, (1, 2), (3, 4), 0) for u in (1, 2, 3)])
    pairs, summary = build_preference_pairs(
        dataset, PromptTemplate(), CATALOG, rejected="hallucinated", answers=loaded
    )
    assert [p.user_id for p in pairs] == [1]
    assert summary.dropped == {"no_hallucination": 1, "same_as_gold": 1}


def test_answers_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "recs.jsonl"
    path.write_text('{"user_id": 1, "movie_ids": [], "scores": []}\n{"user_id": "x"}\n')
    with pytest.raises(DataFormatError, match=r"line 2.*user_id"):
        load_answers(path)


def test_sources_refuse_missing_inputs() -> None:
    dataset, _ = make_world(0)
    with pytest.raises(ConfigError, match="needs ratings"):
        build_preference_pairs(dataset, PromptTemplate(), CATALOG, rejected="popularity")
    with pytest.raises(ConfigError, match="needs answers"):
        build_preference_pairs(dataset, PromptTemplate(), CATALOG, rejected="model")
    with pytest.raises(ConfigError, match="unknown rejected source 'worst'"):
        build_preference_pairs(dataset, PromptTemplate(), CATALOG, rejected="worst")


# -- files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["numbered", "json"])
def test_file_round_trip(tmp_path: Path, fmt: str) -> None:
    dataset, ratings = make_world(5)
    template = PromptTemplate(output_format=fmt)  # type: ignore[arg-type]
    path = tmp_path / "prefs.jsonl"
    summary = export_preference_jsonl(
        dataset, template, CATALOG, path, rejected="random", ratings=ratings, seed=2
    )
    assert isinstance(summary, PairSummary) and summary.path == str(path)
    assert "\\u" not in path.read_text(encoding="utf-8")  # UTF-8, never \u escapes
    chat = export_chat_jsonl(dataset, template, CATALOG, tmp_path / "chat.jsonl")
    chat_lines = [json.loads(x) for x in chat.read_text(encoding="utf-8").splitlines()]
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == summary.n_pairs == len(dataset)
    for line, chat_line in zip(lines, chat_lines, strict=True):
        assert set(line) == {"input", "preferred_output", "non_preferred_output"}
        # the prompt and the chosen answer are exactly the chat file's example
        assert line["input"]["messages"] + line["preferred_output"] == chat_line["messages"]
        assert line["non_preferred_output"][0]["role"] == "assistant"
    rows = read_preference_jsonl(path)
    assert [r.to_openai() for r in rows] == lines
    trl = rows[0].to_trl()
    assert trl == {
        "prompt": lines[0]["input"]["messages"],
        "chosen": lines[0]["preferred_output"],
        "rejected": lines[0]["non_preferred_output"],
    }
    report = validate_preference_jsonl(path)
    assert report.ok, str(report)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["popularity", "random"]))
def test_any_export_reads_back_and_validates(world_seed: int, source: str) -> None:
    dataset, ratings = make_world(world_seed, n_users=10)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.jsonl"
        export_preference_jsonl(
            dataset, PromptTemplate(), CATALOG, path, rejected=source, ratings=ratings
        )
        assert validate_preference_jsonl(path).ok
        rows = read_preference_jsonl(path)
    assert [r.chosen[0]["content"] for r in rows] == [
        PromptTemplate().target(e.gold, CATALOG) for e in dataset
    ]


def test_nothing_to_write_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    dataset, answers = answer_world()
    path = tmp_path / "p.jsonl"
    with pytest.raises(ConfigError, match=r"no preference pairs.*dropped"):
        export_preference_jsonl(
            dataset[1:3], PromptTemplate(), CATALOG, path, rejected="model", answers=answers
        )
    assert not path.exists()


def test_failed_export_leaves_previous_file(tmp_path: Path) -> None:
    dataset, ratings = make_world(1)
    path = tmp_path / "p.jsonl"
    export_preference_jsonl(dataset, PromptTemplate(), CATALOG, path, ratings=ratings)
    before = path.read_bytes()
    broken = ProfileDataset([*dataset.examples, Example(9, (1, 2), (999,), 1)])
    with pytest.raises(DataFormatError, match=r"user 9.*999"):
        export_preference_jsonl(broken, PromptTemplate(), CATALOG, path, ratings=ratings)
    assert path.read_bytes() == before
    with pytest.raises(DataFormatError, match="user 9 has an empty gold"):
        export_preference_jsonl(
            ProfileDataset([Example(9, (1,), (), 0)]), PromptTemplate(), CATALOG, path,
            ratings=ratings,
        )  # fmt: skip


def test_reader_names_line_and_field(tmp_path: Path) -> None:
    good = {
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "preferred_output": [{"role": "assistant", "content": "a"}],
        "non_preferred_output": [{"role": "assistant", "content": "b"}],
    }
    bad = dict(good, non_preferred_output=[{"role": "user", "content": "b"}])
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataFormatError, match=r"line 3.*non_preferred_output\[0\].*'assistant'"):
        read_preference_jsonl(path)
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(DataFormatError, match=r"line 1.*input\.messages"):
        read_preference_jsonl(path)
