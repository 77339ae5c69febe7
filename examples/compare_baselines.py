"""Popularity, item-kNN and EASE under one protocol, with paired significance tests.

Run: python examples/compare_baselines.py
"""

from __future__ import annotations

from llmrec.data import ensure_synthetic, load_ratings, load_titles
from llmrec.metrics import compare, evaluate
from llmrec.recommenders import available_recommenders, get_recommender
from llmrec.truth import NeighbourTruth

folder = ensure_synthetic(n_users=3_000, n_movies=400, n_ratings=150_000, seed=0)
ratings = load_ratings(folder)
catalog = load_titles(folder / "movie_titles.csv")
_, _, test = NeighbourTruth.profile_data_50(n_users=1_500).build(ratings, progress=False).split()
train_ratings = ratings.for_users(test.user_ids, exclude=True)
truth = {e.user_id: e.gold for e in test}

print("registered backends:", ", ".join(available_recommenders()), end="\n\n")
reports = {}
for name, config in [
    ("popularity", {}),
    ("itemknn", {"n_neighbours": 50}),
    ("ease", {"l2": 200.0}),
]:
    model = get_recommender(name, **config).fit(train_ratings, catalog)
    recs = model.recommend_many(test.profiles, k=10)
    reports[name] = evaluate(
        {e.user_id: r.movie_ids for e, r in zip(test, recs, strict=True)},
        truth,
        metrics=["precision@5", "recall@5", "f1@5", "mrr", "ndcg@10"],
        seed=0,
    )
    print(f"{name}:\n{reports[name]}\n")

for name in ("itemknn", "ease"):
    print(f"{name} against popularity (paired over the same test users):")
    print(compare(reports[name], reports["popularity"], n_permutations=2_000, seed=0), end="\n\n")
