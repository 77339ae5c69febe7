"""Ranking metrics: llmrec.metrics against ranx, on the same random input, in one run.

Each of ``--users`` users gets 10 distinct recommendations and 1-10 relevant items from a
catalog of ``--items`` ids. Both libraries start from numpy arrays: llmrec from ``-1``-padded id
matrices (and, timed apart, from lists of lists and from dicts user → list / user → set, the
ragged paths), ranx from its low-level ``(users × ranks × [id, score])`` arrays passed to
``ranx.evaluate`` (its fastest entry point; building ``Qrels``/``Run`` objects from dicts is
timed separately with ``--ranx-objects``). ranx's numba kernels are compiled on a small warm-up
call first, so compilation is excluded. Values are compared per user wherever the definitions
match (ranx ``map@k`` divides by |relevant|, so it is compared with llmrec ``map_relevant@k``).

    python benchmarks/bench_metrics.py                 # 1,000,000 users
    python benchmarks/bench_metrics.py --users 20000   # quick check
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from llmrec.metrics import build_hit_matrix, evaluate, resolve_metric

K = 10
MAX_RELEVANT = 10
# llmrec name → ranx name, where the two definitions are the same.
PAIRS = {
    "precision@5": "precision@5",
    "recall@5": "recall@5",
    "f1@5": "f1@5",
    "mrr": "mrr",
    "ndcg@10": "ndcg@10",
    "map_relevant@5": "map@5",
    "hit@5": "hit_rate@5",
}


def make_input(n_users: int, n_items: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ranked lists (n × 10, distinct ids) and relevant sets (n × 10, ``-1`` padded)."""
    rng = np.random.default_rng(seed)
    ranked = np.empty((n_users, K), dtype=np.int64)
    step = 100_000
    for start in range(0, n_users, step):
        stop = min(n_users, start + step)
        ranked[start:stop] = rng.random((stop - start, n_items)).argpartition(K, axis=1)[:, :K]
    relevant = np.full((n_users, MAX_RELEVANT), -1, dtype=np.int64)
    sizes = rng.integers(1, MAX_RELEVANT + 1, size=n_users)
    for start in range(0, n_users, step):
        stop = min(n_users, start + step)
        draw = rng.random((stop - start, n_items)).argpartition(MAX_RELEVANT, axis=1)
        block = draw[:, :MAX_RELEVANT]
        block[np.arange(MAX_RELEVANT) >= sizes[start:stop, None]] = -1
        relevant[start:stop] = block
    return ranked, relevant


def to_ranx_arrays(ranked: np.ndarray, relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ranx's low-level layout: ``[id, score]`` rows, run sorted by descending score."""
    scores = np.broadcast_to(np.arange(K, 0, -1, dtype=np.float64), ranked.shape)
    run = np.stack([ranked.astype(np.float64), scores], axis=-1)
    qrels = np.stack([relevant.astype(np.float64), (relevant >= 0).astype(np.float64)], axis=-1)
    return np.ascontiguousarray(qrels), np.ascontiguousarray(run)


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best = float("inf")
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=200, help="catalog size (hits need overlap)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is shown")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ranx-objects",
        action="store_true",
        help="also time ranx Qrels/Run construction from dicts and evaluate on them",
    )
    args = parser.parse_args(argv)

    print(f"machine: {platform.machine()} {platform.processor() or ''}".rstrip())
    print(f"cores: {os.cpu_count()}  python {platform.python_version()}  numpy {np.__version__}")
    ranked, relevant = make_input(args.users, args.items, args.seed)
    n_rel = (relevant >= 0).sum(axis=1)
    print(
        f"input: {args.users:,} users x {K} recommendations, 1-{MAX_RELEVANT} relevant each "
        f"(mean {n_rel.mean():.2f}), catalog {args.items:,} items, seed {args.seed}"
    )
    names = list(PAIRS)

    # --- llmrec: hit matrix + kernels alone, then the whole evaluate() ---------------------
    specs = [resolve_metric(n) for n in names]

    def kernels() -> dict[str, np.ndarray]:
        hm = build_hit_matrix(ranked, relevant, K)
        return {s.name: s.batch(hm, s.k) for s in specs if s.batch is not None}

    t_kernels, _ = best_of(args.repeat, kernels)
    t_eval, report = best_of(args.repeat, lambda: evaluate(ranked, relevant, names, n_bootstrap=0))
    tracemalloc.start()
    evaluate(ranked, relevant, names, n_bootstrap=0)
    peak_llmrec = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"llmrec hit matrix + {len(names)} kernels       : {t_kernels:8.3f} s")
    peak = f"peak {peak_llmrec / 2**20:.0f} MiB traced"
    print(f"llmrec evaluate(), no bootstrap     : {t_eval:8.3f} s  ({peak})")
    t_boot, _ = best_of(1, lambda: evaluate(ranked, relevant, names, n_bootstrap=200, seed=0))
    print(f"llmrec evaluate(), 200 bootstraps   : {t_boot:8.3f} s")
    users = [f"u{i}" for i in range(args.users)]
    ranked_lists = ranked.tolist()
    truth_lists = [[d for d in row if d >= 0] for row in relevant.tolist()]

    def ragged_kernels() -> dict[str, np.ndarray]:
        hm = build_hit_matrix(ranked_lists, truth_lists, K)
        return {s.name: s.batch(hm, s.k) for s in specs if s.batch is not None}

    t_rk, ragged_values = best_of(args.repeat, ragged_kernels)
    print(f"llmrec hit matrix + kernels, lists  : {t_rk:8.3f} s  (list of lists, as *_batch)")
    t_lists, lists_report = best_of(
        args.repeat, partial(evaluate, ranked_lists, truth_lists, names, n_bootstrap=0)
    )
    print(f"llmrec evaluate() on lists of lists : {t_lists:8.3f} s")
    recs = dict(zip(users, ranked_lists, strict=True))
    truth = dict(zip(users, map(set, truth_lists), strict=True))
    t_map, map_report = best_of(args.repeat, partial(evaluate, recs, truth, names, n_bootstrap=0))
    tracemalloc.start()
    evaluate(recs, truth, names, n_bootstrap=0)
    peak_map = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"llmrec evaluate() on dicts          : {t_map:8.3f} s  (user -> list, user -> set; "
        f"peak {peak_map / 2**20:.0f} MiB traced)"
    )
    same = all(
        np.array_equal(ragged_values[n], report.values[n])
        and np.array_equal(lists_report.values[n], report.values[n])
        and np.array_equal(map_report.values[n], report.values[n])
        for n in names
    )
    print("ragged and dict inputs give the padded values exactly" if same else "RAGGED DIFFERS")
    del recs, truth, ragged_values, lists_report, map_report

    # --- ranx ---------------------------------------------------------------------------
    try:
        import ranx
    except ImportError:
        print("ranx is not installed (pip install 'llmrec[bench]'); comparison skipped")
        return 0
    import numba

    qrels_arr, run_arr = to_ranx_arrays(ranked, relevant)
    metrics_ranx = [PAIRS[n] for n in names]
    warm = min(1000, args.users)
    t0 = time.perf_counter()
    ranx.evaluate(qrels_arr[:warm], run_arr[:warm], metrics_ranx, return_mean=False)
    print(
        f"ranx {importlib.metadata.version('ranx')} "
        f"(numba {numba.__version__}, {numba.get_num_threads()} threads) "
        f"warm-up / compile: {time.perf_counter() - t0:.2f} s (excluded)"
    )
    t_ranx, scores = best_of(
        args.repeat,
        lambda: ranx.evaluate(qrels_arr, run_arr, metrics_ranx, return_mean=False),
    )
    print(f"ranx evaluate() on arrays           : {t_ranx:8.3f} s")
    print(f"ratio ranx / llmrec evaluate()      : {t_ranx / t_eval:8.2f}x  (> 1: llmrec faster)")
    print(f"ratio ranx / llmrec kernels         : {t_ranx / t_kernels:8.2f}x")

    print("\nagreement per user (max |llmrec - ranx|), and the means:")
    ok = True
    for name in names:
        ours = report.values[name]
        theirs = np.asarray(scores[PAIRS[name]], dtype=np.float64)
        diff = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
        ok &= diff < 1e-9
        print(
            f"  {name:<15} vs {PAIRS[name]:<12} max diff {diff:.1e}   "
            f"mean {ours.mean():.6f} / {theirs.mean():.6f}"
        )
    ok &= same
    print("values agree" if ok else "VALUES DIFFER")

    if args.ranx_objects:
        tiny = ranx.Qrels({"q": {"1": 1}}), ranx.Run({"q": {"1": 1.0, "2": 0.5}})
        ranx.evaluate(*tiny, metrics_ranx)  # compile the object path too
        t0 = time.perf_counter()
        qrels = ranx.Qrels(
            {
                u: {str(d): 1 for d in row if d >= 0}
                for u, row in zip(users, relevant.tolist(), strict=True)
            }
        )
        run = ranx.Run(
            {
                u: {str(d): float(K - j) for j, d in enumerate(row)}
                for u, row in zip(users, ranked.tolist(), strict=True)
            }
        )
        t_build = time.perf_counter() - t0
        t_obj, _ = best_of(1, lambda: ranx.evaluate(qrels, run, metrics_ranx))
        print(f"\nranx Qrels/Run from dicts: build {t_build:.2f} s, evaluate {t_obj:.2f} s")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS: {rss:.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
