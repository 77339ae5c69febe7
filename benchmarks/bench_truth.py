"""Benchmark: ``NeighbourTruth`` (scipy.sparse core) against a straightforward per-user build.

The straightforward version is what one writes by hand: pandas to group the ratings once, then,
per target, Python sets for the neighbours and a ``Counter`` over their movies. Both build
profileData50 for the same kind of targets on the same generated Netflix-like ratings (Zipf
movie popularity, heavy-tailed user activity, taste groups so that neighbours agree).

    python benchmarks/bench_truth.py                       # 1M ratings, ~1-2 minutes
    python benchmarks/bench_truth.py --netflix-scale --jobs 2   # ~100M ratings, 10,000 targets

The straightforward version runs on a random subset of targets (``--naive-targets``) and its
per-target time is extrapolated to all targets; the printout says so. Peak memory is the
resident-set maximum (``ru_maxrss``) of the process that built the truth, and of its workers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.data.ratings import Ratings
from llmrec.truth import NeighbourTruth, ProfileDataset


# -- data -----------------------------------------------------------------------------------------
def generate(n_ratings: int, n_users: int, n_movies: int, seed: int = 0) -> Ratings:
    """Netflix-like ratings in numpy: Zipf movies, log-normal user activity, taste groups."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(mean=0.0, sigma=1.2, size=n_users)
    counts = np.maximum(1, np.round(activity / activity.sum() * n_ratings * 1.75)).astype(np.int64)
    counts = np.minimum(counts, n_movies // 2)
    user = np.repeat(np.arange(n_users, dtype=np.int32), counts)
    n = user.size
    groups = 20
    group_of_user = rng.integers(0, groups, n_users).astype(np.int16)
    weights = 1.0 / (np.arange(n_movies) + 200.0) ** 1.2
    popular = rng.permutation(n_movies).astype(np.int32)  # movie id of each popularity rank
    cdf = np.cumsum(weights) / weights.sum()
    favourites = np.stack(
        [
            popular[rng.choice(n_movies, 100, replace=False, p=weights / weights.sum())]
            for _ in range(groups)
        ]
    )
    movie = popular[np.minimum(np.searchsorted(cdf, rng.random(n)), n_movies - 1)]
    row_group = group_of_user[user]
    from_group = rng.random(n) < 0.55
    movie[from_group] = favourites[
        row_group[from_group], rng.integers(0, 100, int(from_group.sum()))
    ]
    key = np.unique(user.astype(np.int64) * n_movies + movie)
    del user, movie, row_group, from_group
    user = (key // n_movies).astype(np.int32)
    movie = (key % n_movies).astype(np.int32)
    del key
    liked = np.zeros((groups, n_movies), dtype=np.bool_)
    liked[np.repeat(np.arange(groups), 100), favourites.ravel()] = True
    quality = rng.normal(0.0, 0.4, n_movies)
    score = (
        3.1
        + quality[movie]
        + 1.2 * liked[group_of_user[user], movie]
        + rng.normal(0, 0.9, user.size)
    )
    stars = np.clip(np.rint(score), 1, 5).astype(np.int8)
    day = rng.integers(0, 2200, user.size) + np.datetime64("1999-11-11", "D").astype(np.int64)
    return Ratings(user + 1, movie + 1, stars, day.astype("datetime64[D]"))


# -- the straightforward version ------------------------------------------------------------------
def naive_setup(ratings: Ratings) -> dict[str, Any]:
    """Group the ratings once with pandas, as one would by hand."""
    import pandas as pd

    df = pd.DataFrame(
        {
            "user": ratings.user_id,
            "movie": ratings.movie_id,
            "rating": ratings.rating,
            "date": ratings.date,
        }
    )
    fans = df[df.rating >= 5].groupby("movie")["user"].apply(set).to_dict()
    watched = df.groupby("user")["movie"].apply(list).to_dict()
    by_user = {u: g for u, g in df.groupby("user")}
    popularity = df["movie"].value_counts().to_dict()
    return {"fans": fans, "watched": watched, "by_user": by_user, "popularity": popularity}


def naive_one(state: dict[str, Any], user: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """profileData50 for one target with sets and a Counter."""
    mine = state["by_user"][user].sort_values(
        ["rating", "date", "movie"], ascending=[False, False, True]
    )
    profile = mine["movie"].head(10).tolist()
    neighbours: set[int] = set()
    for m in profile:
        neighbours |= state["fans"].get(m, set())
    neighbours.discard(user)
    chosen = sorted(neighbours)
    if len(chosen) > 10_000:
        chosen = random.Random(seed * 1_000_003 + user).sample(chosen, 10_000)
    counts: Counter[int] = Counter()
    for u in chosen:
        counts.update(state["watched"][u])
    half = Fraction(1, 2)
    pop = state["popularity"]
    gold = [m for m, c in counts.items() if chosen and Fraction(c, len(chosen)) >= half]
    gold = [m for m in gold if m not in set(profile)]
    gold.sort(key=lambda m: (-counts[m], -pop[m], m))
    return profile, gold[:10]


# -- measurement ----------------------------------------------------------------------------------
def peak_mb() -> dict[str, float]:
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024 / 1024
    return {
        "self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale,
        "workers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale,
    }


def run_llmrec(
    ratings: Ratings, targets: int | None, jobs: int
) -> tuple[dict[str, Any], ProfileDataset]:
    tool = NeighbourTruth.profile_data_50(n_users=targets)
    t0 = time.perf_counter()
    ds = tool.build(ratings, n_jobs=jobs, progress=False)
    seconds = time.perf_counter() - t0
    summary = {
        "seconds": seconds,
        "targets": ds.meta["n_targets"],
        "examples": len(ds),
        "eligible": ds.meta["n_eligible"],
        "stats": str(ds.stats()),
        "peak_mb": peak_mb(),
    }
    return summary, ds


def _pss_mb(pid: int) -> float:
    """Proportional set size of one process (shared pages split among their users), Linux."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    return sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")) / 1024


def _tree_pss_mb(root: int) -> float:
    """PSS of ``root`` plus its direct children (the worker processes)."""
    total = _pss_mb(root)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == root:
            total += _pss_mb(int(stat.parent.name))
    return total


def child(folder: str, targets: int | None, jobs: int) -> None:
    """Build in a fresh process so its peak memory is the build's alone.

    Besides ``ru_maxrss`` (which counts pages shared by fork in every worker again), a thread
    samples the PSS of this process and its workers five times a second: their true joint footprint.
    """
    peak = [0.0]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _tree_pss_mb(os.getpid()))

    ratings = Ratings.load(folder)
    t0 = time.perf_counter()
    ratings.fingerprint()  # stored in meta.json by Ratings.save, so not recomputed here
    fp = time.perf_counter() - t0
    watcher = threading.Thread(target=watch, daemon=True)
    if sys.platform.startswith("linux"):
        watcher.start()
    out = run_llmrec(ratings, targets, jobs)[0]
    done.set()
    out["fingerprint_seconds"] = fp
    out["peak_pss_mb"] = peak[0]
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=4_800)
    parser.add_argument("--movies", type=int, default=17_770)
    parser.add_argument("--naive-targets", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--netflix-scale", action="store_true")
    parser.add_argument("--targets", default="10000", help="targets at Netflix scale, or 'all'")
    parser.add_argument("--data-dir", default=None, help="where the generated ratings are kept")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    targets = None if args.targets == "all" else int(args.targets)
    if args.child:
        child(args.child, targets, args.jobs)
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    if args.netflix_scale:
        netflix_scale(args, targets)
        return
    t0 = time.perf_counter()
    ratings = generate(args.ratings, args.users, args.movies, args.seed)
    print(f"data: {ratings!r} generated in {time.perf_counter() - t0:.1f} s")
    ours, dataset = run_llmrec(ratings, None, args.jobs)
    per_target = ours["seconds"] / max(ours["targets"], 1)
    print(f"llmrec: {ours['targets']:,} targets in {ours['seconds']:.2f} s ({args.jobs} job(s))")
    t0 = time.perf_counter()
    state = naive_setup(ratings)
    setup = time.perf_counter() - t0
    eligible = NeighbourTruth.profile_data_50().eligible_users(ratings)
    rng = np.random.default_rng(args.seed)
    sample = rng.choice(eligible, size=min(args.naive_targets, eligible.size), replace=False)
    t0 = time.perf_counter()
    answers = {int(u): naive_one(state, int(u)) for u in sample.tolist()}
    naive_per_target = (time.perf_counter() - t0) / max(sample.size, 1)
    built = {e.user_id: e for e in dataset}
    agree = all(
        (tuple(p), tuple(g))
        == ((built[u].profile, built[u].gold) if u in built else (tuple(p), ()))
        for u, (p, g) in answers.items()
    )
    print(f"same profiles and gold lists on the {len(answers)} compared targets: {agree}")
    naive_total = setup + naive_per_target * ours["targets"]
    print(
        f"straightforward (pandas + sets): setup {setup:.2f} s, {naive_per_target * 1e3:.1f} ms "
        f"per target measured on {sample.size} targets, extrapolated to {ours['targets']:,}: "
        f"{naive_total:.1f} s"
    )
    print(f"ratio per target: {naive_per_target / per_target:,.0f}x")
    print(f"ratio end to end (incl. setup): {naive_total / ours['seconds']:,.0f}x")
    print(f"peak memory (MB): {peak_mb()}")
    print(ours["stats"])


def netflix_scale(args: argparse.Namespace, targets: int | None) -> None:
    folder = Path(args.data_dir or Path(tempfile.gettempdir()) / "llmrec-bench-netflix")
    if not (folder / "meta.json").exists():
        t0 = time.perf_counter()
        ratings = generate(100_480_507, 480_189, 17_770, args.seed)
        ratings.save(folder)
        print(f"data: {ratings!r} generated and saved in {time.perf_counter() - t0:.0f} s")
        del ratings
    cmd = [sys.executable, __file__, "--child", str(folder), "--targets", args.targets]
    cmd += ["--jobs", str(args.jobs)]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(
        f"llmrec profileData50: {out['targets']:,} targets ({out['examples']:,} kept, "
        f"{out['eligible']:,} eligible) in {out['seconds']:.1f} s with {args.jobs} job(s); "
        f"fingerprint {out['fingerprint_seconds']:.1f} s"
    )
    print(
        f"peak memory (MB): build process {out['peak_mb']['self']:,.0f} RSS, largest worker "
        f"{out['peak_mb']['workers']:,.0f} RSS; all processes together "
        f"{out['peak_pss_mb']:,.0f} PSS (sampled every 0.2 s)"
    )
    rate = out["targets"] / out["seconds"]
    print(
        f"throughput {rate:,.0f} targets/s -> all {out['eligible']:,} eligible users: "
        f"about {out['eligible'] / rate / 60:.0f} min (extrapolated)"
    )
    print(out["stats"])


if __name__ == "__main__":
    main()
