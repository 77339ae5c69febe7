"""Benchmark building the peers' protocols on 10 million ratings, against pandas.

A synthetic table of ``--n-ratings`` ratings (10 million by default; Zipf movie popularity,
heavy-tailed user activity, timestamps to the second over two years with many ties, users
interleaved in the file as in Amazon review dumps; one rating per (user, movie)) is built
once, then:

* ``tallrec.build`` (window 10, the last 10,000 windows, 80/10/10) against the same rule in
  pandas (``groupby(sort=False).ngroup()`` for the order of first appearance, a stable
  ``sort_values``, ``cumcount`` for the window positions); the targets and histories are
  checked equal;
* ``next_item.build`` (leave-one-out, 10 items of history, 1 + 19 stored candidates) against
  the leave-one-out split alone in pandas (stable sort, ``cumcount``, the last item and the ten
  before it); pandas has no candidate sampler, so its time is the split only and llmrec's the
  whole build, candidates included; the targets and profiles are checked equal.

Prints wall time (best of ``--repeat`` untraced runs) and the peak memory of one more run traced
with ``tracemalloc`` (which sees numpy's and pandas' buffers) of each. Run:
``python benchmarks/bench_protocols.py`` (``--n-ratings 1000000`` for a quick run). The
machine it ran on is printed first.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from bench_backends import machine
from llmrec.data import Catalog, Movie, Ratings
from llmrec.protocols import next_item, tallrec


def synthetic(n_ratings: int, seed: int = 0) -> tuple[Ratings, Catalog]:
    """Ratings with second-resolution times and interleaved users, one per (user, movie)."""
    rng = np.random.default_rng(seed)
    n_users = max(100, n_ratings // 50)
    n_movies = max(1000, n_ratings // 500)
    activity = rng.lognormal(0.0, 1.1, n_users)
    user = rng.choice(n_users, size=n_ratings, p=activity / activity.sum()).astype(np.int64) + 1
    pop = 1.0 / np.arange(1, n_movies + 1) ** 0.9
    movie = rng.choice(n_movies, size=n_ratings, p=pop / pop.sum()).astype(np.int64) + 1
    key = user * (n_movies + 1) + movie
    _, first = np.unique(key, return_index=True)
    keep = np.sort(first)  # one rating per (user, movie), file order kept
    stamp = 1_500_000_000 + rng.integers(0, 2 * 365 * 86_400 // 600, size=keep.size) * 600
    ratings = Ratings(
        user[keep],
        movie[keep],
        rng.integers(1, 6, size=keep.size),
        stamp // 86_400,
        time=stamp,
    )
    catalog = Catalog(Movie(m, f"Item {m}", 2000 + m % 20) for m in range(1, n_movies + 1))
    return ratings, catalog


def frame(ratings: Ratings) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "user": ratings.user_id,
            "movie": ratings.movie_id,
            "rating": ratings.rating,
            "time": ratings.time,
        }
    )


def pandas_tallrec(df: Any, window: int = 10, last: int = 10_000) -> tuple[Any, Any]:
    """TALLRec's windows in pandas: targets and histories (movie ids) of the last windows."""
    first = df.groupby("user", sort=False).ngroup()
    ordered = df.assign(first=first).sort_values(["first", "time"], kind="stable")
    pos = ordered.groupby("first", sort=False).cumcount().to_numpy()
    movies = ordered["movie"].to_numpy()
    at = np.flatnonzero(pos >= window)[-last:]
    return movies[at], movies[at[:, None] - window + np.arange(window)]


def pandas_next_item(df: Any, history: int = 10) -> tuple[Any, Any, list[tuple[int, ...]]]:
    """Leave-one-out in pandas: per user (ascending id) the last item and the ones before."""
    ordered = df.sort_values(["user", "time"], kind="stable")
    size = ordered.groupby("user", sort=True)["movie"].transform("size").to_numpy()
    pos = ordered.groupby("user", sort=True).cumcount().to_numpy()
    users = ordered["user"].to_numpy()
    movies = ordered["movie"].to_numpy()
    is_target = (pos == size - 1) & (size >= 2)
    at = np.flatnonzero(is_target)
    starts = at - pos[at]
    profiles = [
        tuple(movies[max(s, t - history) : t].tolist())
        for s, t in zip(starts.tolist(), at.tolist(), strict=True)
    ]
    return users[at], movies[at], profiles


def timed(func: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time of ``repeat`` untraced runs, then the peak of one traced run (tracing
    slows code that makes many Python objects, so it is kept out of the timing)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ratings", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(machine())
    start = time.perf_counter()
    ratings, catalog = synthetic(args.n_ratings)
    print(
        f"{len(ratings):,} ratings, {ratings.n_users:,} users, {ratings.n_movies:,} movies "
        f"(made in {time.perf_counter() - start:.1f} s)"
    )
    df = frame(ratings)

    t_ours, m_ours, splits = timed(lambda: tallrec.build(ratings, catalog), args.repeat)
    t_pd, m_pd, (targets, hist) = timed(lambda: pandas_tallrec(df), args.repeat)
    ours_t = np.concatenate([s.target for s in splits])
    ours_h = np.concatenate([s.history for s in splits])
    if not (np.array_equal(ours_t, targets) and np.array_equal(ours_h, hist)):
        raise SystemExit("tallrec.build and the pandas rule disagree")
    print(f"tallrec.build      {t_ours:7.2f} s  {m_ours:8.0f} MiB traced")
    print(f"pandas (same rule) {t_pd:7.2f} s  {m_pd:8.0f} MiB traced  ({t_pd / t_ours:.1f}x)")

    t_ours, m_ours, split = timed(lambda: next_item.build(ratings, seed=0), args.repeat)
    t_pd, m_pd, (users, gold, profiles) = timed(lambda: pandas_next_item(df), args.repeat)
    if split.dataset.user_ids != users.tolist() or split.dataset.profiles != profiles:
        raise SystemExit("next_item.build and the pandas split disagree")
    if [g[0] for g in split.dataset.golds] != gold.tolist():
        raise SystemExit("next_item.build and the pandas split disagree on the targets")
    print(
        f"next_item.build    {t_ours:7.2f} s  {m_ours:8.0f} MiB traced  "
        f"({len(split.dataset):,} users, candidates included)"
    )
    print(f"pandas (split only){t_pd:7.2f} s  {m_pd:8.0f} MiB traced  ({t_pd / t_ours:.2f}x)")


if __name__ == "__main__":
    main()
