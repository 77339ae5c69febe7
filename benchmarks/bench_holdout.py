"""Benchmark: ``ProbeTruth`` and ``CandidateSampler`` on synthetic Netflix data, against pandas.

The data is llmrec's synthetic Netflix generator (the same arrays ``write_netflix`` writes as
text, and its probe set), built in memory so no 2 GB of text is written. The comparison is what
one writes with pandas: the same rule (probe pairs held out; per user the history sorted by
rating, date, movie for the profile, the held-out ratings for the gold, five-star counts for
eligibility) with ``merge``, ``sort_values`` and ``groupby().head()``. Both run in the same
process on the same data and must give the same examples.

    python benchmarks/bench_holdout.py                    # 2M ratings, about a minute
    python benchmarks/bench_holdout.py --ratings 100480507 --pandas-ratings 20000000
                                                          # Netflix scale (about 10 GB of RAM)

``--pandas-ratings`` runs the pandas version (and llmrec again, for the ratio) on the ratings
of a seeded subset of users holding about that many ratings, when the full table would take
too much memory for pandas on a shared machine; the printout says which sizes were compared.
Peak memory is the resident set's growth over its level before the step (sampled every 20 ms),
with the ratings already in memory; the budget is twice the ratings' arrays plus the output.

The candidate benchmark samples 20 candidates for every eligible user (all targets of the probe
truth, less the few heaviest raters who left fewer than 20 movies unrated) and compares with a
per-user loop (Python sets and ``random.sample``) on 2,000 users, extrapolated per user (said so
in the printout).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from llmrec.data.netflix import ProbeSet
from llmrec.data.ratings import Ratings
from llmrec.data.synthetic import FIRST_DAY, SyntheticConfig, _generate, _hidden_rng
from llmrec.data.synthetic_probe import draw_hidden
from llmrec.truth import CandidateSampler, Example, ProbeTruth, ProfileDataset

NETFLIX = {"n_ratings": 100_480_507, "n_users": 480_189, "n_movies": 17_770}


# -- measuring ------------------------------------------------------------------------------------
def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(fn: Callable[[], Any]) -> tuple[Any, float, int]:
    """(result, seconds, peak RSS growth in bytes) of ``fn()``."""
    gc.collect()
    base = _rss()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    finally:
        seconds = time.perf_counter() - t0
        done.set()
        thread.join()
    peak[0] = max(peak[0], _rss())
    return out, seconds, peak[0] - base


def gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


# -- data -----------------------------------------------------------------------------------------
def synthetic(n_ratings: int, seed: int) -> tuple[Ratings, ProbeSet]:
    scale = n_ratings / NETFLIX["n_ratings"]
    n_users = max(1_000, round(NETFLIX["n_users"] * scale))
    n_movies = NETFLIX["n_movies"]
    cfg = SyntheticConfig(n_ratings=n_ratings, n_users=n_users, n_movies=n_movies, seed=seed)
    gen = _generate(cfg)
    hidden = draw_hidden(gen.customer, gen.movie, gen.days, cfg.n_movies, _hidden_rng(cfg))
    ratings = Ratings(
        gen.customer.astype(np.int32),
        gen.movie.astype(np.int32),
        gen.stars,
        (FIRST_DAY + gen.days.astype("timedelta64[D]")).astype("datetime64[D]"),
    )
    del gen
    probe = ProbeSet(hidden.probe_movie.astype(np.int32), hidden.probe_user.astype(np.int32))
    return ratings, probe


def subset(ratings: Ratings, probe: ProbeSet, n_ratings: int) -> tuple[Ratings, ProbeSet]:
    """The ratings and probe pairs of a seeded subset of users holding about ``n_ratings``."""
    users = np.unique(ratings.user_id)
    share = min(1.0, n_ratings / len(ratings))
    rng = np.random.default_rng(7)
    keep = np.sort(users[rng.random(users.size) < share])
    return ratings.for_users(keep), ProbeSet(
        probe.movie_id[np.isin(probe.user_id, keep)], probe.user_id[np.isin(probe.user_id, keep)]
    )


# -- the pandas version ---------------------------------------------------------------------------
def pandas_probe_truth(ratings: Ratings, probe: ProbeSet, cfg: dict[str, int]) -> list[Example]:
    """The same rule with pandas group-bys (every eligible user, user-id order)."""
    import pandas as pd

    df = pd.DataFrame(
        {
            "user": ratings.user_id,
            "movie": ratings.movie_id,
            "rating": ratings.rating,
            "date": ratings.date,
        }
    )
    pairs = pd.DataFrame({"user": probe.user_id, "movie": probe.movie_id, "held": True})
    df = df.merge(pairs, on=["user", "movie"], how="left")
    df["held"] = df["held"].fillna(False).astype(bool)
    df = df.sort_values(
        ["user", "rating", "date", "movie"], ascending=[True, False, False, True], kind="stable"
    )
    hist = df[~df["held"]]
    gold = df[df["held"] & (df["rating"] >= cfg["relevant_min_rating"])]
    five = hist[hist["rating"] == 5].groupby("user").size()
    eligible = five[five >= cfg["min_five_star"]].index.intersection(gold["user"].unique())
    prof = hist[hist["user"].isin(eligible)].groupby("user").head(cfg["profile_size"])
    gl = gold[gold["user"].isin(eligible)].groupby("user").head(cfg["max_gold"])
    prof_lists = prof.groupby("user")["movie"].agg(tuple)
    gold_lists = gl.groupby("user")["movie"].agg(tuple)
    return [
        Example(int(u), tuple(int(m) for m in prof_lists.get(u, ())), tuple(int(m) for m in g))
        for u, g in gold_lists.items()
    ]


def loop_candidates(
    dataset: ProfileDataset, ratings: Ratings, n: int, seed: int
) -> dict[int, list[int]]:
    """Per user: Python sets and ``random.sample`` (what one writes by hand)."""
    users = {e.user_id for e in dataset}
    mask = np.isin(ratings.user_id, np.fromiter(users, dtype=np.int32))
    rated: dict[int, set[int]] = {}
    for u, m in zip(ratings.user_id[mask].tolist(), ratings.movie_id[mask].tolist(), strict=True):
        rated.setdefault(u, set()).add(m)
    catalogue = np.unique(ratings.movie_id).tolist()
    out = {}
    for e in dataset:
        rng = random.Random(seed * 1_000_003 + e.user_id)
        banned = rated.get(e.user_id, set()) | set(e.gold)
        negatives: list[int] = []
        while len(negatives) < n - len(e.gold):
            m = rng.choice(catalogue)
            if m not in banned:
                banned.add(m)
                negatives.append(m)
        cands = list(e.gold) + negatives
        rng.shuffle(cands)
        out[e.user_id] = cands
    return out


# -- main -----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=int, default=2_000_000, help="synthetic ratings")
    parser.add_argument(
        "--pandas-ratings",
        type=int,
        default=None,
        help="compare with pandas on a user subset of about this many ratings (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, numpy {np.__version__}")  # fmt: skip
    t0 = time.perf_counter()
    ratings, probe = synthetic(args.ratings, args.seed)
    size = sum(getattr(ratings, c).nbytes for c in ("user_id", "movie_id", "rating", "date"))
    print(
        f"data: {len(ratings):,} ratings, {ratings.n_users:,} users, {len(probe):,} probe pairs "
        f"(generated in {time.perf_counter() - t0:.0f} s); rating arrays {gb(size)}"
    )
    ratings.fingerprint()  # computed once, outside the timings
    rule = {"relevant_min_rating": 4, "min_five_star": 4, "profile_size": 10, "max_gold": 10}
    truth = ProbeTruth(n_users=None, **rule)

    ds, secs, peak = measure(lambda: truth.build(ratings, probe=probe, progress=False))
    out_bytes = sum(8 * (len(e.profile) + len(e.gold)) + 200 for e in ds)
    budget = 2 * size + out_bytes
    print(
        f"ProbeTruth, every eligible user: {len(ds):,} examples in {secs:.1f} s; peak "
        f"{gb(peak)} (budget 2 x {gb(size)} + output ~{gb(out_bytes)} = {gb(budget)}: "
        f"{'within' if peak <= budget else 'OVER'}); target <= 120 s: "
        f"{'met' if secs <= 120 else 'MISSED'}"
    )

    if args.pandas_ratings is not None and args.pandas_ratings < len(ratings):
        small_r, small_p = subset(ratings, probe, args.pandas_ratings)
        ours, ours_s, ours_peak = measure(
            lambda: truth.build(small_r, probe=small_p, progress=False)
        )
        label = f"user subset with {len(small_r):,} ratings"
    else:
        small_r, small_p, ours, ours_s, ours_peak = ratings, probe, ds, secs, peak
        label = f"all {len(ratings):,} ratings"
    theirs, pd_s, pd_peak = measure(lambda: pandas_probe_truth(small_r, small_p, rule))
    same = theirs == ours.examples
    print(
        f"pandas group-by on the {label}: {pd_s:.1f} s, peak {gb(pd_peak)}; llmrec "
        f"{ours_s:.1f} s, peak {gb(ours_peak)}; speed-up x{pd_s / ours_s:.1f}, memory "
        f"ratio x{pd_peak / max(ours_peak, 1):.1f}; identical examples: {same}"
    )
    del theirs
    gc.collect()

    sampler = CandidateSampler(n_candidates=20, seed=args.seed)
    # the heaviest synthetic raters (like real ones) rated almost every movie: no room for 20
    per_user = np.bincount(ratings.user_id)
    n_movies = int(np.unique(ratings.movie_id).size)
    ds = ProfileDataset([e for e in ds if per_user[e.user_id] + 20 <= n_movies], ds.meta)
    sets, c_s, c_peak = measure(lambda: sampler.sample(ds, ratings))
    print(
        f"CandidateSampler, 20 candidates for {len(sets):,} users: {c_s:.1f} s, peak "
        f"{gb(c_peak)}; target <= 30 s: {'met' if c_s <= 30 else 'MISSED'}"
    )
    few = ProfileDataset(ds.examples[:: max(1, len(ds) // 2_000)][:2_000])
    _, loop_s, _ = measure(lambda: loop_candidates(few, ratings, 20, args.seed))
    each = loop_s / max(len(few), 1)
    print(
        f"per-user loop on {len(few):,} users: {loop_s:.1f} s, extrapolated to {len(ds):,} "
        f"users {each * len(ds):.0f} s; speed-up x{each * len(ds) / c_s:.1f}"
    )


if __name__ == "__main__":
    main()
