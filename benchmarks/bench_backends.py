"""Benchmark the recommender backends.

Part ``baselines``: item-kNN and EASE fitted on a synthetic Netflix-sized rating table (10 million
ratings, 480,189 users, 17,770 movies by default), then asked for 10,000 profiles. Each step
prints its time and the process's peak memory so far, and the recommend step is compared with the
per-profile loop a user would write otherwise (score one profile, sort, filter), as a ratio.
EASE's fit is also compared with the textbook ``np.linalg.inv(XᵀX + λI)``.

Run: ``python benchmarks/bench_backends.py --part baselines`` (``--n-ratings 1000000`` for a
quick run). The machine it ran on is printed first.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from llmrec.data.ratings import Ratings
from llmrec.recommenders import EASERecommender, ItemKNNRecommender, Recommender
from llmrec.recommenders._matrix import interaction_matrix


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def timed(label: str, func: Callable[[], Any], *, traced: bool = False) -> tuple[float, Any]:
    """Run ``func`` once; print its time, the process's peak RSS so far and, with ``traced``,
    the peak of the memory allocated during the step alone (``tracemalloc``, numpy included)."""
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    step = ""
    if traced:
        step = f"   step peak {tracemalloc.get_traced_memory()[1] / 2**20:6.0f} MiB"
        tracemalloc.stop()
    print(f"  {label:<44} {seconds:8.2f} s   peak RSS {peak_mb():6.0f} MiB{step}", flush=True)
    return seconds, result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs (load average {load}), "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


# -- synthetic data ---------------------------------------------------------------------------
def synthetic_ratings(
    n_users: int, n_movies: int, n_ratings: int, seed: int, n_genres: int = 24
) -> Ratings:
    """A Netflix-like table: Zipf movie popularity, heavy-tailed user activity, and taste.

    Each user has a favourite genre; half of their ratings come from that genre's movies (Zipf
    within the genre), half from the whole catalog (Zipf), and genre matches get higher stars.
    A user may draw the same movie twice; the matrices count such a pair once.
    """
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(mean=0.0, sigma=1.1, size=n_users)
    per_user = np.maximum(1, np.floor(activity / activity.sum() * n_ratings)).astype(np.int64)
    surplus = int(per_user.sum()) - n_ratings
    if surplus > 0:
        per_user[np.argsort(-per_user)[:surplus]] -= 1
    else:
        per_user[rng.choice(n_users, -surplus, replace=False)] += 1
    user = np.repeat(np.arange(1, n_users + 1, dtype=np.int32), per_user)
    popularity = 1.0 / np.arange(1, n_movies + 1) ** 0.9
    global_pick = rng.choice(n_movies, size=n_ratings, p=popularity / popularity.sum())
    genre_of_rank = rng.integers(0, n_genres, size=n_movies)
    by_genre = [np.flatnonzero(genre_of_rank == g) for g in range(n_genres)]
    width = min(len(g) for g in by_genre)
    table = np.stack([g[:width] for g in by_genre])
    inner = 1.0 / np.arange(1, width + 1) ** 0.8
    favourite = rng.integers(0, n_genres, size=n_users)[user - 1]
    genre_pick = table[favourite, rng.choice(width, size=n_ratings, p=inner / inner.sum())]
    from_genre = rng.random(n_ratings) < 0.5
    rank = np.where(from_genre, genre_pick, global_pick)
    movie_of_rank = rng.permutation(n_movies).astype(np.int32) + 1
    match = genre_of_rank[rank] == favourite
    stars = np.clip(np.rint(3.3 + 0.9 * match + rng.normal(0, 1.0, n_ratings)), 1, 5)
    days = rng.integers(0, 2200, size=n_ratings) + np.datetime64("1999-11-11", "D").astype(int)
    return Ratings(user, movie_of_rank[rank], stars.astype(np.int8), days)


def top_profiles(ratings: Ratings, n_profiles: int, length: int, seed: int) -> list[list[int]]:
    """The top ``length`` distinct movies (by stars, then date) of ``n_profiles`` random users."""
    rng = np.random.default_rng(seed)
    users, counts = np.unique(ratings.user_id, return_counts=True)
    eligible = users[counts >= 2 * length]
    chosen = np.sort(rng.choice(eligible, size=min(n_profiles, eligible.size), replace=False))
    mask = np.isin(ratings.user_id, chosen)
    u, m = ratings.user_id[mask], ratings.movie_id[mask]
    order = np.lexsort((ratings.date[mask], -ratings.rating[mask].astype(np.int64), u))
    u, m = u[order], m[order]
    bounds = np.searchsorted(u, np.append(chosen, np.iinfo(np.int32).max)).tolist()
    return [
        list(dict.fromkeys(m[lo:hi].tolist()))[:length] for lo, hi in itertools.pairwise(bounds)
    ]


# -- the loops a user would write instead -----------------------------------------------------
def loop_recommend(
    model: npt.NDArray[np.float32] | sp.csr_matrix,
    movie_ids: npt.NDArray[np.int32],
    columns: Callable[[list[int]], npt.NDArray[np.int64]],
    profiles: list[list[int]],
    k: int,
) -> list[list[int]]:
    """Per profile: sum the model rows of its movies, sort all items, drop its own movies."""
    out = []
    for profile in profiles:
        cols = columns(profile)
        cols = cols[cols >= 0]
        scores = np.asarray(model[cols].sum(axis=0)).ravel()
        own = set(profile)
        ranked = [int(movie_ids[c]) for c in np.argsort(-scores, kind="stable")[: k + len(cols)]]
        out.append([m for m in ranked if m not in own][:k])
    return out


def bench_model(
    label: str,
    model: Recommender,
    ratings: Ratings,
    profiles: list[list[int]],
    loop_profiles: int,
    k: int,
) -> dict[str, float]:
    print(f"{label}: {model!r}")
    fit_s, _ = timed("fit", lambda: model.fit(ratings), traced=True)
    rec_s, recs = timed(
        f"recommend_many, {len(profiles):,} profiles", lambda: model.recommend_many(profiles, k)
    )
    subset = profiles[:loop_profiles]
    matrix = model.similarity_ if isinstance(model, ItemKNNRecommender) else model.weights_  # type: ignore[attr-defined]
    index = model.index_  # type: ignore[attr-defined]
    loop_s, looped = timed(
        f"per-profile loop, {len(subset):,} profiles",
        lambda: loop_recommend(matrix, index.movie_ids, index.columns, subset, k),
    )
    pairs = list(zip(recs, looped, strict=False))
    same = sum(list(r.movie_ids) == lp for r, lp in pairs)
    overlap = np.mean([len(set(r.movie_ids) & set(lp)) / max(len(lp), 1) for r, lp in pairs])
    per_batch = rec_s / len(profiles)
    per_loop = loop_s / max(len(subset), 1)
    print(
        f"  per profile: batched {1e6 * per_batch:,.0f} µs, loop {1e6 * per_loop:,.0f} µs "
        f"-> batched {per_loop / per_batch:,.1f}x faster"
    )
    print(f"  agreement with the loop: {same}/{len(pairs)} identical lists, overlap {overlap:.3f}")
    return {"fit_s": fit_s, "recommend_s": rec_s, "loop_ratio": per_loop / per_batch}


def bench_ease_inverse(ratings: Ratings, model: EASERecommender) -> None:
    """Our Cholesky-based inverse against ``np.linalg.inv`` on the same Gram matrix."""
    from llmrec.recommenders.ease import ease_weights

    x = interaction_matrix(ratings, model.index_, min_rating=model.config.min_rating)
    gram = np.asarray((x.T @ x).toarray(), dtype=np.float64)
    lam = model.config.l2
    ours_s, ours = timed(
        "EASE weights, Cholesky (potrf + potri)", lambda: ease_weights(gram, lam), traced=True
    )

    def textbook() -> npt.NDArray[np.float64]:
        p = np.linalg.inv(gram + lam * np.eye(gram.shape[0]))
        b = p / -np.diag(p)
        np.fill_diagonal(b, 0.0)
        return b

    inv_s, ref = timed("EASE weights, np.linalg.inv", textbook, traced=True)
    print(
        f"  Cholesky is {inv_s / ours_s:,.1f}x faster; max |difference| "
        f"{float(np.max(np.abs(ours - ref))):.2e}"
    )


def bench_baselines(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}")
    print(
        f"data: {args.n_ratings:,} ratings, {args.n_users:,} users, {args.n_movies:,} movies "
        f"(seed {args.seed}); {args.n_profiles:,} profiles of {args.profile_length}, k={args.k}"
    )
    _, ratings = timed(
        "generate ratings",
        lambda: synthetic_ratings(args.n_users, args.n_movies, args.n_ratings, args.seed),
    )
    _, profiles = timed(
        "pick profiles",
        lambda: top_profiles(ratings, args.n_profiles, args.profile_length, args.seed),
    )
    knn = ItemKNNRecommender(n_neighbours=args.n_neighbours)
    bench_model("item-kNN", knn, ratings, profiles, args.loop_profiles, args.k)
    del knn
    ease = EASERecommender(max_items=args.max_items)
    bench_model("EASE", ease, ratings, profiles, args.loop_profiles, args.k)
    if args.compare_inverse:
        bench_ease_inverse(ratings, ease)
    print(f"done: peak RSS {peak_mb():,.0f} MiB; machine: {machine()}")


# Each part of this benchmark, by its ``--part`` name.
PARTS: dict[str, Callable[[argparse.Namespace], None]] = {"baselines": bench_baselines}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--part", choices=["baselines", "openai", "throughput", "all"], default="all"
    )
    parser.add_argument("--throughput-rounds", type=int, default=3)
    parser.add_argument("--n-ratings", type=int, default=10_000_000)
    parser.add_argument("--n-users", type=int, default=480_189)
    parser.add_argument("--n-movies", type=int, default=17_770)
    parser.add_argument("--n-profiles", type=int, default=10_000)
    parser.add_argument("--profile-length", type=int, default=10)
    parser.add_argument("--loop-profiles", type=int, default=1_000)
    parser.add_argument("--n-neighbours", type=int, default=100)
    parser.add_argument("--max-items", type=int, default=5_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-compare-inverse",
        dest="compare_inverse",
        action="store_false",
        help="skip timing np.linalg.inv for EASE",
    )
    args = parser.parse_args(argv)
    names = list(PARTS) if args.part == "all" else [args.part]
    missing = [n for n in names if n not in PARTS]
    if missing:
        print(f"no benchmark part {missing[0]!r} in this file; parts: {', '.join(PARTS)}")
        return 2
    for name in names:
        PARTS[name](args)
    return 0


# -- part "openai": the LLM backend against the local OpenAI-compatible server -----------------
# Sizes come from ``--openai-profiles``, ``--openai-latency``, ``--openai-concurrency`` and
# ``--openai-fail-rate`` when the parser defines them; otherwise the figures are used.
_OPENAI_N_MOVIES = 2_000


def _openai_catalog() -> Any:
    from llmrec.data.catalog import Catalog, Movie

    return Catalog(
        Movie(i, f"Picture {i:04d}", 1950 + i % 60) for i in range(1, _OPENAI_N_MOVIES + 1)
    )


def _openai_fake_model(body: dict[str, Any]) -> str:
    """Answer ten catalog titles chosen from the profile (a stand-in for the model's text)."""
    lines = body["messages"][-1]["content"].splitlines()[1:]
    seed = sum(int(line.split()[1]) for line in lines if line.startswith("Picture "))
    picks = [(seed * 7 + 13 * j) % _OPENAI_N_MOVIES + 1 for j in range(10)]
    return "\n".join(f"{r}. Picture {m:04d} ({1950 + m % 60})" for r, m in enumerate(picks, 1))


def _openai_serve(conn: Any, latency: float, fail_rate: float, seed: int) -> None:
    """Run ``LocalOpenAIServer`` in its own process (its own interpreter lock, like a real
    server) and answer commands from the benchmark over a pipe."""
    import json

    from llmrec.testing.server import LocalOpenAIServer

    with LocalOpenAIServer(_openai_fake_model, latency=latency) as server:
        if fail_rate > 0:
            server.fail_randomly(
                fail_rate, statuses=(429, 500), seed=seed, once_per_request_body=True
            )
        conn.send(server.base_url)
        while True:
            command, value = conn.recv()
            if command == "latency":
                server.latency = float(value)
                conn.send(None)
            elif command == "stats":
                chat = [r for r in server.requests if r.path == "/v1/chat/completions"]
                answered: dict[str, int] = {}
                for r in chat:
                    if r.status == 200:
                        key = json.dumps(r.body, sort_keys=True)
                        answered[key] = answered.get(key, 0) + 1
                failed = sum(1 for r in chat if r.status is not None and r.status != 200)
                twice = sum(n - 1 for n in answered.values())
                conn.send({"requests": len(chat), "failed": failed, "answered_twice": twice})
            else:
                conn.send(None)
                return


class _OpenAIServerProcess:
    def __init__(self, latency: float, fail_rate: float, seed: int) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_openai_serve, args=(child, latency, fail_rate, seed), daemon=True
        )
        self.process.start()
        self.base_url: str = self.conn.recv()

    def ask(self, command: str, value: Any = None) -> Any:
        self.conn.send((command, value))
        return self.conn.recv()

    def close(self) -> None:
        self.ask("stop")
        self.process.join(timeout=10)


def bench_openai(args: argparse.Namespace) -> None:
    import tempfile
    from pathlib import Path

    from llmrec.recommenders.llm.cache import ResponseCache
    from llmrec.recommenders.openai import OpenAIRecommender

    n = int(getattr(args, "openai_profiles", 1_000))
    latency = float(getattr(args, "openai_latency", 0.1))
    conc = int(getattr(args, "openai_concurrency", 32))
    fail_rate = float(getattr(args, "openai_fail_rate", 0.1))
    seed = int(getattr(args, "seed", 0))
    ideal = n * latency / conc
    # No schedule beats this: some worker sends ceil(n / conc) requests one after another.
    floor = -(-n // conc) * latency
    print(f"machine: {machine()}")
    print(
        f"openai backend: {n:,} distinct profiles of 10, local server in its own process, "
        f"{latency * 1000:.0f} ms per answer, max_concurrency={conc}; ideal {ideal:.3f} s "
        f"(n x latency / concurrency), floor {floor:.3f} s ({floor / ideal:.3f}x ideal: "
        f"ceil(n / concurrency) answers in a row)"
    )
    rng = np.random.default_rng(seed)
    profiles = [
        tuple(int(m) for m in rng.choice(_OPENAI_N_MOVIES, 10, replace=False) + 1) for _ in range(n)
    ]
    catalog = _openai_catalog()
    ratings = Ratings(
        np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]")
    )
    folder = Path(tempfile.mkdtemp(prefix="llmrec-bench-openai-"))

    def backend(url: str, cache: Path) -> OpenAIRecommender:
        return OpenAIRecommender(
            base_url=url, api_key="bench", cache=cache, max_concurrency=conc
        ).fit(ratings, catalog)

    def calibrate(server: _OpenAIServerProcess) -> None:
        server.ask("latency", 0.0)
        rec = backend(server.base_url, folder / "calibrate.sqlite")
        rec.recommend(profiles[0], 10)  # connect, warm up
        probe = [profiles[i] for i in range(1, 51)]
        start = time.perf_counter()
        for p in probe:
            rec.recommend(p, 10)
        rtt = (time.perf_counter() - start) / len(probe)
        print(f"  one request at 0 ms latency, sequential: {rtt * 1000:6.2f} ms round trip")
        rec.close()
        server.ask("latency", latency)

    def run(label: str, server: _OpenAIServerProcess, cache: Path) -> list[Any]:
        rec = backend(server.base_url, cache)
        before = server.ask("stats")["requests"]
        start, cpu = time.perf_counter(), time.process_time()
        recs = rec.recommend_many(profiles, 10)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        stats = server.ask("stats")
        sent = stats["requests"] - before
        rate = n / seconds
        print(
            f"  {label:<28} {seconds:7.3f} s  {seconds / ideal:5.2f}x ideal  {rate:7,.0f} "
            f"profiles/s  {sent:5,} requests  client CPU {cpu:5.2f} s  "
            f"peak RSS {peak_mb():4.0f} MiB",
            flush=True,
        )
        rec.close()
        return recs

    server = _OpenAIServerProcess(latency, 0.0, seed)
    try:
        calibrate(server)
        cache = folder / "clean.sqlite"
        run("fresh run", server, cache)
        cached = run("fully cached rerun", server, cache)
        print(f"  cached rerun: {sum(r.cached for r in cached):,} of {n:,} served from cache")
        stats = ResponseCache(cache).stats()
        print(f"  cache: {stats.entries:,} answers, {stats.duplicate_writes} written twice")
    finally:
        server.close()
    server = _OpenAIServerProcess(latency, fail_rate, seed)
    try:
        cache = folder / "faults.sqlite"
        run(f"fresh, {fail_rate:.0%} fail once", server, cache)
        stats = server.ask("stats")
        entries = ResponseCache(cache).stats()
        print(
            f"  faults: {stats['failed']} requests failed (429/500) and were retried; "
            f"{stats['answered_twice']} answered twice; cache {entries.entries:,} answers, "
            f"{entries.duplicate_writes} written twice"
        )
    finally:
        server.close()


PARTS["openai"] = bench_openai


def bench_throughput(args: argparse.Namespace) -> None:
    """The OpenAI backend against a plain thread pool over the official SDK, same server, same
    run: 200 requests, 16 in flight, 100 ms per answer (issue 11, item 13: within 10 %)."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    import openai

    from llmrec.prompts import PromptTemplate
    from llmrec.recommenders.openai import OpenAIRecommender

    n, conc, latency = 200, 16, 0.1
    rounds = int(getattr(args, "throughput_rounds", 3))
    floor = -(-n // conc) * latency
    print(f"machine: {machine()}")
    print(
        f"throughput: {n} requests, {conc} in flight, {latency * 1000:.0f} ms per answer, local "
        f"server in its own process; floor {floor:.2f} s; best of {rounds} rounds each"
    )
    rng = np.random.default_rng(0)
    profiles = [
        tuple(int(m) for m in rng.choice(_OPENAI_N_MOVIES, 10, replace=False) + 1) for _ in range(n)
    ]
    catalog = _openai_catalog()
    ratings = Ratings(
        np.array([1]), np.array([1]), np.array([5]), np.array(["2005-01-01"], "M8[D]")
    )
    template = PromptTemplate()
    folder = Path(tempfile.mkdtemp(prefix="llmrec-bench-throughput-"))
    server = _OpenAIServerProcess(latency, 0.0, 0)
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="bench", max_retries=0)
        bodies = [
            {
                "model": "gpt-4o-mini-2024-07-18",
                "messages": template.messages(p, catalog, k=10),
                "temperature": 0.0,
                "max_tokens": 400,
            }
            for p in profiles
        ]

        def plain() -> float:
            with ThreadPoolExecutor(conc) as pool:
                start = time.perf_counter()
                answers = list(pool.map(lambda b: client.chat.completions.create(**b), bodies))
                seconds = time.perf_counter() - start
            assert len(answers) == n
            return seconds

        def llmrec(round_: int) -> float:
            rec = OpenAIRecommender(
                base_url=server.base_url,
                api_key="bench",
                cache=folder / f"round{round_}.sqlite",
                max_concurrency=conc,
            ).fit(ratings, catalog)
            rec.transport().client()  # the SDK client is built lazily: not part of the timing
            start = time.perf_counter()
            recs = rec.recommend_many(profiles, 10)
            seconds = time.perf_counter() - start
            assert len(recs) == n and not any(r.cached for r in recs)
            rec.close()
            return seconds

        plain()  # warm up: connections, imports
        best_plain = best_llmrec = float("inf")
        for r in range(rounds):
            a, b = plain(), llmrec(r)
            best_plain, best_llmrec = min(best_plain, a), min(best_llmrec, b)
            print(f"  round {r + 1}: plain SDK pool {a:6.3f} s   llmrec backend {b:6.3f} s")
        print(
            f"  best: plain SDK ThreadPoolExecutor({conc}) {best_plain:6.3f} s; llmrec "
            f"OpenAIRecommender(max_concurrency={conc}, cache on) {best_llmrec:6.3f} s; "
            f"ratio {best_llmrec / best_plain:5.3f} (target <= 1.10); peak RSS {peak_mb():.0f} MiB"
        )
    finally:
        server.close()


PARTS["throughput"] = bench_throughput


if __name__ == "__main__":
    sys.exit(main())
