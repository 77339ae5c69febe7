"""Benchmark candidate ranking of the classic backends: ``rank_many`` against a per-profile loop.

Popularity, item-kNN and EASE are fitted on a synthetic Netflix-like rating table (the generator
of ``bench_backends.py``; 2 million ratings, 100,000 users, 17,770 movies by default), then rank
20 candidates (1 positive + 19 uniform negatives) for each of 5,000 profiles of 10 movies:

* ``rank_many``: one call, the whole batch vectorised (score block + one gather + one lexsort);
* loop: ``rank(profile, candidates)`` once per profile, what a user writes without a batch call.

Both give the same rankings (checked). Prints times, the ratio loop / rank_many, and the peak
memory traced during each ``rank_many`` call.

Run: ``python benchmarks/bench_rank.py`` (``--n-ratings 500000 --n-profiles 1000`` for a quick
run). The machine it ran on is printed first.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from bench_backends import machine, synthetic_ratings
from llmrec.recommenders import Recommender, get_recommender


def candidates_for(
    profiles: list[tuple[int, ...]], movies: np.ndarray, n: int, seed: int
) -> list[tuple[int, ...]]:
    """``n`` distinct movies outside each profile, in a random order."""
    rng = np.random.default_rng(seed)
    out = []
    for profile in profiles:
        own = set(profile)
        picked: list[int] = []
        while len(picked) < n:
            m = int(movies[rng.integers(movies.size)])
            if m not in own and m not in picked:
                picked.append(m)
        out.append(tuple(picked))
    return out


def bench(name: str, model: Recommender, profiles: list, lists: list, repeat: int) -> None:
    def batch() -> list:
        return model.rank_many(profiles, lists)

    def loop() -> list:
        return [model.rank(p, c) for p, c in zip(profiles, lists, strict=True)]

    times = {}
    for label, func in (("rank_many", batch), ("loop", loop)):
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            result = func()
            best = min(best, time.perf_counter() - start)
        times[label] = (best, result)
    tracemalloc.start()
    batch()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    same = [r.movie_ids for r in times["rank_many"][1]] == [r.movie_ids for r in times["loop"][1]]
    t_batch, t_loop = times["rank_many"][0], times["loop"][0]
    print(
        f"  {name:<11} rank_many {t_batch:7.3f} s   loop {t_loop:7.3f} s   "
        f"loop / rank_many {t_loop / t_batch:6.1f}x   rank_many peak {peak:6.1f} MiB   "
        f"same rankings: {same}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ratings", type=int, default=2_000_000)
    parser.add_argument("--n-users", type=int, default=100_000)
    parser.add_argument("--n-movies", type=int, default=17_770)
    parser.add_argument("--n-profiles", type=int, default=5_000)
    parser.add_argument("--n-candidates", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(machine())
    ratings = synthetic_ratings(args.n_users, args.n_movies, args.n_ratings, args.seed)
    movies = np.unique(ratings.movie_id)
    rng = np.random.default_rng(args.seed + 1)
    profiles = [
        tuple(int(m) for m in rng.choice(movies, size=10, replace=False))
        for _ in range(args.n_profiles)
    ]
    lists = candidates_for(profiles, movies, args.n_candidates, args.seed + 2)
    print(
        f"{ratings.movie_id.size:,} ratings, {movies.size:,} movies; {len(profiles):,} profiles x "
        f"{args.n_candidates} candidates; best of {args.repeat}"
    )
    for name, options in (
        ("popularity", {}),
        ("itemknn", {}),
        ("ease", {"max_items": 5000}),
    ):
        model = get_recommender(name, **options).fit(ratings)
        bench(name, model, profiles, lists, args.repeat)


if __name__ == "__main__":
    main()
