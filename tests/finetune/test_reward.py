"""The GRPO reward is the evaluation's metric of the same answer, with documented penalties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.data.catalog import Catalog
from llmrec.data.resolver import TitleResolver
from llmrec.errors import ConfigError
from llmrec.finetune.local.reward import RankingReward
from llmrec.metrics import evaluate
from llmrec.prompts import PromptTemplate, parse_response

CATALOG = Catalog.from_mapping(
    {
        1: ("Heat", 1995),
        2: ("Alien", 1979),
        3: ("The Matrix", 1999),
        4: ("Fargo", 1996),
        5: ("Casablanca", 1942),
        6: ("Vertigo", 1958),
        7: ("Jaws", 1975),
        8: ("Amelie", 2001),
        9: ("Brazil", 1985),
        10: ("Psycho", 1960),
        11: ("Rocky", 1976),
        12: ("Up", 2009),
    }
)
MADE_UP = ["Zorblax Returns (2031)", "Quintessential Gloom (1888)", "Nope Nope Nope (2012)"]
TEMPLATE = PromptTemplate(n_recommendations=5)
METRICS = ["ndcg@10", "recall@5", "hit@3", "mrr", "ndcg@3"]


def _brute_force(text: str, gold: list[int], profile: list[int], metric: str, k: int) -> float:
    """The reference: parse, resolve, drop profile movies and repeats, keep k, then the metric's
    textbook formula on the kept list."""
    resolver = TitleResolver(CATALOG)
    kept: list[int] = []
    for item in parse_response(text).items:
        movie = resolver.resolve(item.title, item.year).movie_id
        if movie is None or movie in profile or movie in kept or len(kept) >= k:
            continue
        kept.append(movie)
    family, _, cut = metric.partition("@")
    top = kept[: int(cut)] if cut else kept
    hits = [m in gold for m in top]
    if family == "ndcg":
        dcg = sum(1 / math.log2(i + 2) for i, h in enumerate(hits) if h)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), int(cut))))
        return dcg / ideal
    if family == "recall":
        return sum(hits) / len(gold)
    if family == "hit":
        return float(any(hits))
    return next((1 / (i + 1) for i, h in enumerate(hits) if h), 0.0)  # mrr


labels = st.sampled_from([m.label() for m in CATALOG] + MADE_UP)
answers = st.one_of(
    st.lists(labels, max_size=8).map(
        lambda xs: "\n".join(f"{i}. {x}" for i, x in enumerate(xs, 1))
    ),
    st.lists(labels, max_size=8).map(lambda xs: "\n".join(f"- {x}" for x in xs)),
    st.text(max_size=40),
)
ids = st.lists(st.integers(1, 12), min_size=1, max_size=5, unique=True)


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.tuples(answers, ids, st.lists(st.integers(1, 12), max_size=4)), max_size=6),
    metric=st.sampled_from(METRICS),
)
def test_reward_equals_the_evaluation_metric_of_the_same_answer(data, metric) -> None:
    reward = RankingReward(CATALOG, metric=metric, template=TEMPLATE)
    texts = [d[0] for d in data]
    golds = [d[1] for d in data]
    profiles = [[m for m in d[2] if m not in d[1]] for d in data]
    got = reward.score(texts, golds, profiles)
    # the evaluation: each answer as a backend's recommendation, all users scored by evaluate()
    recs = {
        i: list(reward.recommendation(t, p).movie_ids)
        for i, (t, p) in enumerate(zip(texts, profiles, strict=True))
    }
    truth = {i: set(g) for i, g in enumerate(golds)}
    expected = evaluate(recs, truth, [metric], n_bootstrap=0).values[reward.metric] if data else []
    assert got == pytest.approx(list(expected), abs=1e-12)
    for text, gold, profile, value in zip(texts, golds, profiles, got, strict=True):
        assert value == pytest.approx(_brute_force(text, gold, profile, metric, 5), abs=1e-12)
        assert 0.0 <= value <= 1.0


def test_unparseable_answer_scores_zero_whatever_the_penalties_and_bonus() -> None:
    reward = RankingReward(
        CATALOG, template=TEMPLATE, hallucination_penalty=1, profile_penalty=1, format_bonus=0.5
    )
    parts = reward.parts(["", "I cannot recommend anything, sorry."], [[1], [1]], [[2], [2]])
    assert [p.reward for p in parts] == [0.0, 0.0]
    assert not any(p.valid for p in parts)


def test_hallucinated_and_profile_titles_are_penalised_per_title() -> None:
    reward = RankingReward(
        CATALOG, metric="hit@5", template=TEMPLATE, hallucination_penalty=0.25, profile_penalty=0.1
    )
    text = "1. Heat (1995)\n2. Zorblax Returns (2031)\n3. Alien (1979)\n4. Nope Nope Nope (2012)"
    (part,) = reward.parts([text], [[1]], [[2]])
    assert (part.metric, part.unresolved, part.profile_movies) == (1.0, 2, 1)
    assert part.reward == pytest.approx(1.0 - 2 * 0.25 - 0.1)
    # the format bonus goes to every answer that parses, even one with no hit
    bonus = RankingReward(CATALOG, metric="hit@5", template=TEMPLATE, format_bonus=0.2)
    assert bonus.score(["1. Jaws (1975)"], [[1]], [[]]) == [pytest.approx(0.2)]


def test_trl_call_takes_chat_completions_and_dataset_columns() -> None:
    reward = RankingReward(CATALOG, metric="mrr", template=TEMPLATE)
    completions = [[{"role": "assistant", "content": "1. Alien (1979)\n2. Heat (1995)"}]]
    assert reward(prompts=["p"], completions=completions, gold=[[1]], profile=[[]]) == [0.5]
    assert reward.__name__ == "reward_mrr"


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown metric"):
        RankingReward(CATALOG, metric="nope@3")
    with pytest.raises(ConfigError, match="hallucination_penalty"):
        RankingReward(CATALOG, hallucination_penalty=-1)
    with pytest.raises(ConfigError, match="one of each"):
        RankingReward(CATALOG).score(["x"], [], [])
