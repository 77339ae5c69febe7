"""Next-item sets ranked by a language-model backend (the official SDK against
``LocalOpenAIServer``) with the sequential prompt, in several orders merged by Borda count."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmrec.data import Catalog, Movie, Ratings
from llmrec.metrics import summarize_repeats
from llmrec.prompts import HistoryTemplate
from llmrec.protocols import next_item
from llmrec.recommenders import rank_with_repeats
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing.server import LocalOpenAIServer

CATALOG = Catalog(Movie(m, f"Picture {m}", 1950 + m) for m in range(1, 81))
SECRET = "sk-test-next-item-0123456789"
PROMPTS: list[str] = []


def _ratings() -> Ratings:
    rng = np.random.default_rng(4)
    rows = []
    for u in range(1, 41):
        for m in rng.choice(np.arange(1, 81), size=8, replace=False):
            rows.append((u, int(m), int(rng.integers(1, 6)), int(rng.integers(0, 10**6))))
    u, m, r, t = (np.asarray(c) for c in zip(*rows, strict=True))
    return Ratings(u, m, r, t // 86_400, time=t)


def first_listed(body: dict[str, Any]) -> str:
    """A model with pure position bias: the candidates exactly as shown."""
    user = body["messages"][-1]["content"]
    PROMPTS.append(user)
    lines = user.split("\nCandidate movies")[1].splitlines()[1:]
    return "\n".join(lines)


def test_a_language_model_ranks_next_item_sets_and_borda_merges_the_orders() -> None:
    split = next_item.build(_ratings(), history=5, n_candidates=10, seed=2)
    test, sets = split.dataset, split.candidates
    template = HistoryTemplate(last=5).prompt_template()
    with LocalOpenAIServer(chat=first_listed) as srv:
        lm = OpenAIRecommender(
            base_url=srv.base_url, api_key=SECRET, cache_mode="off", template=template
        ).fit(split.fitting, CATALOG)
        runs = rank_with_repeats(lm, test, sets, repeats=8, seed=1, aggregate="borda")
        lm.close()
    # the model read the time-ordered history: the last 5 movies before the target
    example = test.examples[0]
    shown = "\n".join(CATALOG.label(m) for m in example.profile)
    assert any(p.startswith("Movies I watched, oldest first:\n" + shown) for p in PROMPTS)
    orders = runs.orders_by_user()
    before = summarize_repeats(runs.rankings(), runs.truth(), ["hit@1"], orders=orders)
    assert before.top1_first_listed == 1.0
    merged = runs.aggregated_rankings()
    after = summarize_repeats([merged] * 8, runs.truth(), ["hit@1"], orders=orders)
    assert after.top1_first_listed is not None and after.top1_first_listed < 0.5
    for u in test.user_ids:
        assert sorted(merged[u]) == sorted(sets[u])
