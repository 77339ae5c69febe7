"""Quickstart: synthetic Netflix data → profileData50 → item-kNN → metrics.

Run: python examples/quickstart.py   (about ten seconds; no network, no API key)
Swap `ensure_synthetic(...)` for the folder of your Netflix Prize files to run on the real data.
"""

from __future__ import annotations

from llmrec.data import ensure_synthetic, load_ratings, load_titles
from llmrec.metrics import evaluate
from llmrec.recommenders import get_recommender
from llmrec.truth import NeighbourTruth

# 1. Data: Kaggle-layout Netflix files, generated once and cached.
folder = ensure_synthetic(n_users=3_000, n_movies=400, n_ratings=150_000, seed=0)
ratings = load_ratings(folder)
catalog = load_titles(folder / "movie_titles.csv")
print(ratings.stats(), end="\n\n")

# 2. The study's ground truth (profileData50) for 1,000 sampled users, split 70/20/10.
pd50 = NeighbourTruth.profile_data_50(n_users=1_000).build(ratings, progress=False)
print(pd50.stats(), end="\n\n")
train, val, test = pd50.split(0.7, 0.2, 0.1, seed=0)

# 3. A classic baseline, fitted on everyone but the test users.
model = get_recommender("itemknn", n_neighbours=50)
model.fit(ratings.for_users(test.user_ids, exclude=True), catalog)
recs = model.recommend_many(test.profiles, k=10)

first = test[0]
print("profile:", [catalog.label(m) for m in first.profile[:3]], "...")
print("gold:   ", [catalog.label(m) for m in first.gold[:3]], "...")
print("itemknn:", [catalog.label(m) for m in recs[0].movie_ids[:3]], "...", end="\n\n")

# 4. The study's metrics, with 95 % bootstrap intervals.
report = evaluate(
    {e.user_id: r.movie_ids for e, r in zip(test, recs, strict=True)},
    {e.user_id: e.gold for e in test},
    metrics=["precision@3", "recall@3", "f1@3", "precision@5", "recall@5", "f1@5", "mrr", "map@5"],
)
print(report)
