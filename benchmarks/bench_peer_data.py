"""Benchmark: reading Amazon reviews and taking their k-core with llmrec and with pandas.

Writes ``--n`` reviews in the Amazon 2023 format (JSON lines with the release's fields: rating,
title, text, images, asin, parent_asin, 28-character user_id, millisecond timestamp, ...; about
1 % are repeated reviews of the same item by the same user, and popularity is skewed), then, in
one run and each in a fresh subprocess so peak memory (``VmHWM``) is per tool:

* **llmrec**: ``llmrec.data.amazon.read_reviews`` (streamed ``json``, latest of repeated reviews
  kept), then ``llmrec.data.kcore(ratings, K)``;
* **pandas**: what a careful user writes: ``pd.read_json(lines=True, chunksize=...)`` keeping
  the four needed columns, ``factorize`` of the ids, a stable sort by time and
  ``drop_duplicates(keep="last")`` per (user, item), then the k-core as a loop of
  ``groupby(...).transform("size")`` filters until nothing changes.

Prints seconds for loading and for the k-core, the ratios, peak memory, and whether both tools
kept the same reviews (counts and an order-free checksum of the kept rows).

    python benchmarks/bench_peer_data.py --n 10_000_000 --k 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import cpu_description, peak_rss, rss_now

_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", dtype=np.uint8)


def _ids(rng: np.random.Generator, n: int, width: int, prefix: bytes) -> list[str]:
    body = _ALPHABET[rng.integers(0, _ALPHABET.size, (n, width - len(prefix)))]
    head = np.frombuffer(prefix * n, dtype=np.uint8).reshape(n, len(prefix))
    rows = np.concatenate([head, body], axis=1)
    return [r.decode() for r in rows.view(f"S{width}").ravel().tolist()]


def write_reviews(path: Path, n: int, seed: int = 0) -> None:
    """``n`` Amazon-2023-format reviews; users and items drawn with skewed popularity."""
    rng = np.random.default_rng(seed)
    n_users, n_items = max(n // 8, 1), max(n // 20, 1)
    users = _ids(rng, n_users, 28, b"A")
    items = _ids(rng, n_items, 10, b"B0")
    u = np.minimum((rng.pareto(1.5, n) * n_users / 10).astype(np.int64), n_users - 1)
    i = np.minimum((rng.pareto(1.2, n) * n_items / 20).astype(np.int64), n_items - 1)
    repeat = rng.random(n) < 0.01  # repeat an earlier review's (user, item)
    earlier = (rng.random(n) * np.arange(n)).astype(np.int64)
    u[repeat], i[repeat] = u[earlier[repeat]], i[earlier[repeat]]
    stars = rng.integers(1, 6, n)
    stamp = 1_500_000_000_000 + np.sort(rng.integers(0, 200_000_000_000, n))
    stamp = stamp[rng.permutation(n)]  # files are not in time order
    words = rng.integers(3, 40, n)
    template = (
        '{{"rating": {r}.0, "title": "Review title", "text": "{text}", "images": [], '
        '"asin": "{a}", "parent_asin": "{a}", "user_id": "{u}", "timestamp": {t}, '
        '"helpful_vote": 0, "verified_purchase": true}}\n'
    )
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, n, 100_000):
            stop = min(start + 100_000, n)
            fh.write(
                "".join(
                    template.format(r=r, text="word " * w, a=items[ii], u=users[uu], t=t)
                    for r, w, ii, uu, t in zip(
                        stars[start:stop].tolist(),
                        words[start:stop].tolist(),
                        i[start:stop].tolist(),
                        u[start:stop].tolist(),
                        stamp[start:stop].tolist(),
                        strict=True,
                    )
                )
            )


def _checksum(rating: Any, seconds: Any) -> int:
    """Order-free: the same multiset of (rating, second) rows gives the same number."""
    r = np.asarray(rating, dtype=np.int64)
    s = np.asarray(seconds, dtype=np.int64) % 1_000_000_007
    return int(((s * 6 + r) ** 2 % (2**61 - 1)).sum() % (2**61 - 1))


def run_llmrec(path: Path, k: int) -> dict[str, Any]:
    from llmrec.data import kcore
    from llmrec.data.amazon import read_reviews

    t = time.perf_counter()
    loaded = read_reviews(path)
    load_s = time.perf_counter() - t
    ratings = loaded.ratings
    t = time.perf_counter()
    core = kcore(ratings, k)
    core_s = time.perf_counter() - t
    assert ratings.time is not None and core.time is not None
    return {
        "load_s": load_s,
        "kcore_s": core_s,
        "kept": len(ratings),
        "core": len(core),
        "core_users": core.n_users,
        "core_items": core.n_movies,
        "checksum": _checksum(core.rating, core.time.astype(np.int64)),
    }


def run_pandas(path: Path, k: int) -> dict[str, Any]:
    import pandas as pd

    t = time.perf_counter()
    parts = []
    columns = ["user_id", "parent_asin", "rating", "timestamp"]
    for chunk in pd.read_json(path, lines=True, chunksize=500_000, dtype=False):
        parts.append(chunk[columns])
    df = pd.concat(parts, ignore_index=True)
    df["user"] = pd.factorize(df["user_id"])[0]
    df["item"] = pd.factorize(df["parent_asin"])[0]
    df = df[["user", "item", "rating", "timestamp"]]
    df = df.sort_values("timestamp", kind="stable").drop_duplicates(["user", "item"], keep="last")
    df = df.sort_index()
    load_s = time.perf_counter() - t
    kept = len(df)
    t = time.perf_counter()
    while True:
        users = df.groupby("user")["user"].transform("size")
        items = df.groupby("item")["item"].transform("size")
        keep = (users >= k) & (items >= k)
        if keep.all():
            break
        df = df[keep]
    core_s = time.perf_counter() - t
    return {
        "load_s": load_s,
        "kcore_s": core_s,
        "kept": kept,
        "core": len(df),
        "core_users": int(df["user"].nunique()),
        "core_items": int(df["item"].nunique()),
        "checksum": _checksum(df["rating"].to_numpy(), df["timestamp"].to_numpy() // 1000),
    }


def _child(tool: str, path: Path, k: int) -> None:
    import llmrec.data.amazon  # noqa: F401  (imports are not part of the measurement)

    if tool == "pandas":
        import pandas  # noqa: F401
    baseline = rss_now()
    result = run_llmrec(path, k) if tool == "llmrec" else run_pandas(path, k)
    result["peak_bytes"] = peak_rss()
    result["baseline_bytes"] = baseline
    print(json.dumps(result))


def _measure(tool: str, path: Path, k: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", tool, "--k", str(k), str(path)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _hardware() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu_description()}, load average {load:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="reviews to generate")
    parser.add_argument("--k", type=int, default=5, help="the k of the k-core")
    parser.add_argument("--tools", default="llmrec,pandas", help="comma-separated")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the file here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.paths[0], args.k)
        return 0
    with tempfile.TemporaryDirectory(prefix="llmrec-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        path = work / f"reviews_{args.n}.jsonl"
        t = time.perf_counter()
        if not path.is_file():
            write_reviews(path, args.n)
        print(f"hardware     {_hardware()}")
        print(f"python       {platform.python_version()}")
        print(
            f"data         {args.n:,} Amazon 2023-format reviews, {path.stat().st_size / 1e6:,.0f}"
            f" MB (ready in {time.perf_counter() - t:.1f} s)"
        )
        results = {tool: _measure(tool, path, args.k) for tool in args.tools.split(",") if tool}
        print()
        print(
            f"peak = VmHWM of the tool's process; growth = peak minus RSS after imports; k={args.k}"
        )
        print(
            f"{'tool':<8} {'load s':>8} {'kcore s':>8} {'kept':>11} {'k-core':>11} {'users':>9}"
            f" {'items':>8} {'peak MB':>8} {'growth MB':>10}"
        )
        for tool, r in results.items():
            growth = (r["peak_bytes"] - r["baseline_bytes"]) / 1e6
            print(
                f"{tool:<8} {r['load_s']:8.2f} {r['kcore_s']:8.3f} {r['kept']:11,} {r['core']:11,}"
                f" {r['core_users']:9,} {r['core_items']:8,} {r['peak_bytes'] / 1e6:8,.0f}"
                f" {growth:10,.0f}"
            )
        fields = ("kept", "core", "core_users", "core_items", "checksum")
        same = len({tuple(r[f] for f in fields) for r in results.values()}) == 1
        print(f"same reviews kept and same k-core from every tool: {same}")
        if "llmrec" in results and "pandas" in results:
            a, b = results["llmrec"], results["pandas"]
            print(f"loading: llmrec is {b['load_s'] / a['load_s']:5.1f}x faster than pandas")
            print(f"k-core:  llmrec is {b['kcore_s'] / a['kcore_s']:5.1f}x faster than pandas")
            print(
                f"memory:  llmrec's peak is {a['peak_bytes'] / b['peak_bytes']:5.2f}x pandas' peak"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
