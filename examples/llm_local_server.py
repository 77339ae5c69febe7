"""The OpenAI backend against an OpenAI-compatible server, with the response cache.

Any server that speaks the OpenAI chat API works through `base_url` (vLLM, Ollama, llama.cpp).
This example starts llmrec's own local test server, whose "model" is a Python function (it
answers with the ten most-rated titles and one invented title), so it runs offline. Against a
real server, drop the `LocalOpenAIServer` block and pass its URL, e.g.
`base_url="http://localhost:11434/v1"` for Ollama.

Run: python examples/llm_local_server.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.data import ensure_synthetic, load_ratings, load_titles
from llmrec.metrics import evaluate
from llmrec.recommenders import get_recommender
from llmrec.testing import LocalOpenAIServer
from llmrec.truth import NeighbourTruth

folder = ensure_synthetic(n_users=3_000, n_movies=400, n_ratings=150_000, seed=0)
ratings = load_ratings(folder)
catalog = load_titles(folder / "movie_titles.csv")
_, _, test = NeighbourTruth.profile_data_50(n_users=600).build(ratings, progress=False).split()

ids, counts = np.unique(ratings.movie_id, return_counts=True)
top = [int(m) for m in ids[np.argsort(-counts, kind="stable")][:10]]
answer = "\n".join(f"{i}. {catalog.label(m)}" for i, m in enumerate(top, 1))
answer += "\n11. The Film That Never Was (2003)"


def model(body: dict[str, Any]) -> str:
    """What the stand-in model writes back, whatever it is asked."""
    return "Sure! Here are movies you may like:\n" + answer


cache = Path(tempfile.mkdtemp()) / "responses.sqlite"
with LocalOpenAIServer(chat=model, latency=0.01) as server:
    llm = get_recommender(
        "openai-zero-shot",
        base_url=server.base_url,
        api_key="local",  # a local server accepts any key
        max_concurrency=16,
        cache=cache,
    ).fit(ratings, catalog)
    recs = llm.recommend_many(test.profiles, k=10)
    sent = len(server.requests)
    again = llm.recommend_many(test.profiles, k=10)  # served from the cache
    print(
        f"first run: {sent} requests; rerun: {len(server.requests) - sent} requests, "
        f"{sum(r.cached for r in again)} of {len(again)} answers from the cache"
    )

rec = recs[0]
print("raw answer:", rec.raw_text.splitlines()[1] if rec.raw_text else None, "...")
print("resolved ids:", rec.movie_ids[:5], "...")
print("diagnostics:", {k: rec.diagnostics[k] for k in ("n_titles", "n_unresolved", "valid")})
print(f"tokens: {rec.usage}, cost at list price: {rec.cost_usd:.6f} USD", end="\n\n")
print(
    evaluate(
        {e.user_id: r.movie_ids for e, r in zip(test, recs, strict=True)},
        {e.user_id: e.gold for e in test},
        metrics=["precision@3", "recall@3", "f1@3", "mrr"],
    )
)
