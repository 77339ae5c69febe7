"""Benchmark: loading Netflix Prize rating files with llmrec, pandas and polars.

Writes a Netflix-like file set (``N:`` movie headers, ``CustomerID,Rating,YYYY-MM-DD`` lines, the
real id ranges and date span) of ``--n-ratings`` ratings in ``--files`` files, then, in one run,
parses it with ``llmrec.data.netflix.load_ratings`` (cache off), with pandas and with polars the
way a user would (read the lines as CSV, forward-fill the movie headers), each in a fresh
subprocess so peak memory (``VmHWM``, C allocations included) is measured per tool. Prints
times, ratios, peak memory against the size of the final arrays, a checksum showing every tool
read the same ratings, and the cached reload time.

    python benchmarks/bench_load.py --n-ratings 10_000_000 --files 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

N_MOVIES = 17_770
MAX_CUSTOMER = 2_649_429
FIRST_DAY = np.datetime64("1999-11-11")
LAST_DAY = np.datetime64("2005-12-31")
BYTES_PER_ROW = 4 + 4 + 1 + 8  # user_id, movie_id, rating, date (datetime64[D])


# -- writing the files ------------------------------------------------------------------------
def _put_digits(
    buf: npt.NDArray[np.uint8], at: npt.NDArray[np.int64], values: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Write each value's decimal digits at ``at``; return the digit counts."""
    nd = np.ones(values.shape, dtype=np.int64)
    for k in range(1, 11):
        nd += values >= 10**k
    for k in range(int(nd.max()) if nd.size else 0):
        sel = nd > k
        buf[at[sel] + k] = 48 + (values[sel] // 10 ** (nd[sel] - 1 - k)) % 10
    return nd


def write_netflix_files(folder: Path, n_ratings: int, n_files: int, seed: int = 0) -> list[Path]:
    """Write ``n_ratings`` random ratings as ``combined_data_<i>.txt`` files; return the paths.

    Movies are spread evenly over the files; each movie gets a block with a skewed number of
    ratings, like the real data. Built with numpy (no per-line Python), so 100M lines take
    seconds.
    """
    rng = np.random.default_rng(seed)
    weights = rng.pareto(1.2, N_MOVIES) + 0.05
    per_movie = rng.multinomial(n_ratings, weights / weights.sum())
    span = int((LAST_DAY - FIRST_DAY).astype(np.int64)) + 1
    table = np.frombuffer(
        "".join(str(FIRST_DAY + d) for d in range(span)).encode(), dtype=np.uint8
    ).reshape(span, 10)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, movie_ids in enumerate(np.array_split(np.arange(1, N_MOVIES + 1), n_files)):
        counts = per_movie[movie_ids - 1]
        n = int(counts.sum())
        users = rng.integers(1, MAX_CUSTOMER + 1, n, dtype=np.int64)
        stars = rng.integers(1, 6, n, dtype=np.int64)
        days = rng.integers(0, span, n, dtype=np.int64)
        # Lines: one header per movie, then its ratings; is_header marks header lines.
        n_lines = n + movie_ids.size
        header_pos = np.cumsum(np.concatenate([[0], counts[:-1] + 1]))
        is_header = np.zeros(n_lines, dtype=bool)
        is_header[header_pos] = True
        value = np.empty(n_lines, dtype=np.int64)
        value[is_header] = movie_ids
        value[~is_header] = users
        nd = np.ones(n_lines, dtype=np.int64)
        for k in range(1, 8):
            nd += value >= 10**k
        length = np.where(is_header, nd + 2, nd + 14)
        start = np.concatenate([[0], np.cumsum(length)[:-1]])
        buf = np.empty(int(length.sum()), dtype=np.uint8)
        _put_digits(buf, start, value)
        h, r = start[is_header] + nd[is_header], start[~is_header] + nd[~is_header]
        buf[h], buf[h + 1] = ord(":"), ord("\n")
        buf[r], buf[r + 1], buf[r + 2], buf[r + 13] = ord(","), 48 + stars, ord(","), ord("\n")
        for j in range(10):
            buf[r + 3 + j] = table[days, j]
        path = folder / f"combined_data_{i + 1}.txt"
        buf.tofile(path)
        paths.append(path)
    return paths


# -- the contenders (each runs in its own subprocess) ---------------------------------------
def _checksum(user: Any, movie: Any, rating: Any, days: Any) -> int:
    u, m = np.asarray(user, np.int64), np.asarray(movie, np.int64)
    r, d = np.asarray(rating, np.int64), np.asarray(days, np.int64)
    idx = np.arange(u.size, dtype=np.int64) % 1_000_003
    return int(((u * 7 + m * 13 + r * 17 + d * 19) * (idx + 1)).sum() % (2**61 - 1))


def run_llmrec(files: list[Path], cache_dir: str | None) -> dict[str, Any]:
    from llmrec.data.netflix import load_ratings

    t = time.perf_counter()
    r = load_ratings(files, cache=cache_dir is not None, cache_dir=cache_dir)
    secs = time.perf_counter() - t
    peak = peak_rss()
    days = r.date.astype(np.int64)
    return {
        "seconds": secs,
        "n": len(r),
        "checksum": _checksum(r.user_id, r.movie_id, r.rating, days),
        "maxrss_bytes": peak,
    }


def run_pandas(files: list[Path]) -> dict[str, Any]:
    import pandas as pd

    t = time.perf_counter()
    frames = []
    for f in files:
        df = pd.read_csv(
            f, header=None, names=["user_id", "rating", "date"], dtype={"user_id": str}
        )
        is_header = df["rating"].isna()
        movie = df["user_id"].where(is_header).str[:-1].ffill().astype(np.int32)
        df = df.assign(movie_id=movie)[~is_header]
        frames.append(
            pd.DataFrame(
                {
                    "user_id": df["user_id"].astype(np.int32),
                    "movie_id": df["movie_id"],
                    "rating": df["rating"].astype(np.int8),
                    "date": pd.to_datetime(df["date"], format="%Y-%m-%d"),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    secs = time.perf_counter() - t
    peak = peak_rss()
    days = out["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    cs = _checksum(out["user_id"], out["movie_id"], out["rating"], days)
    return {"seconds": secs, "n": len(out), "checksum": cs, "maxrss_bytes": peak}


def run_polars(files: list[Path]) -> dict[str, Any]:
    import polars as pl

    t = time.perf_counter()
    frames = []
    for f in files:
        df = pl.read_csv(
            f,
            has_header=False,
            new_columns=["user_id", "rating", "date"],
            schema_overrides={"user_id": pl.Utf8, "rating": pl.Int8, "date": pl.Utf8},
        )
        is_header = pl.col("rating").is_null()
        frames.append(
            df.with_columns(
                movie_id=pl.when(is_header)
                .then(pl.col("user_id").str.strip_suffix(":"))
                .forward_fill()
                .cast(pl.Int32)
            )
            .filter(~is_header)
            .select(
                pl.col("user_id").cast(pl.Int32),
                "movie_id",
                "rating",
                pl.col("date").str.to_date("%Y-%m-%d"),
            )
        )
    out = pl.concat(frames)
    secs = time.perf_counter() - t
    peak = peak_rss()
    days = out["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    cs = _checksum(out["user_id"].to_numpy(), out["movie_id"].to_numpy(), out["rating"], days)
    return {"seconds": secs, "n": out.height, "checksum": cs, "maxrss_bytes": peak}


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (C allocations included).

    Linux: ``VmHWM`` from /proc/self/status, the high-water mark of this program's own memory.
    (``ru_maxrss`` is not used there: it keeps the RSS of the parent process at fork time
    across ``exec``, which would charge the file generator's memory to every tool.)
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_now() -> int:
    """Current resident set size in bytes (0 where /proc is missing)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _child(tool: str, files: list[Path], cache_dir: str | None) -> None:
    import llmrec.data.netflix  # noqa: F401  (imports are not part of the measurement)

    if tool in ("pandas", "polars"):
        __import__(tool)
    baseline = rss_now()
    runners = {
        "llmrec": lambda: run_llmrec(files, None),
        "llmrec-cache-build": lambda: run_llmrec(files, cache_dir),
        "llmrec-cached": lambda: run_llmrec(files, cache_dir),
        "pandas": lambda: run_pandas(files),
        "polars": lambda: run_polars(files),
    }
    result = runners[tool]()
    result["baseline_bytes"] = baseline
    print(json.dumps(result))


def _measure(tool: str, files: list[Path], cache_dir: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", tool, "--cache-dir", cache_dir, *map(str, files)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cpu_description() -> str:
    """The CPU's model name and the cores this process may use."""
    model = platform.processor() or "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores available"


def _hardware() -> str:
    return f"{cpu_description()}, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-ratings", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--tools", default="llmrec,polars,pandas", help="comma-separated")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the files here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.paths, args.cache_dir)
        return 0

    with tempfile.TemporaryDirectory(prefix="llmrec-bench-") as tmp:
        work = args.workdir or Path(tmp)
        t = time.perf_counter()
        files = write_netflix_files(work / "netflix", args.n_ratings, args.files)
        size = sum(f.stat().st_size for f in files)
        print(f"hardware     {_hardware()}")
        print(f"python       {platform.python_version()}")
        print(
            f"data         {args.n_ratings:,} ratings in {len(files)} files, {size / 1e6:,.0f} MB"
            f" (written in {time.perf_counter() - t:.1f} s)"
        )
        final_mb = args.n_ratings * BYTES_PER_ROW / 1e6
        print(f"final arrays {final_mb:,.0f} MB (int32 user, int32 movie, int8 rating, date[D])")
        cache = str(work / "cache")
        results = {t: _measure(t, files, cache) for t in args.tools.split(",") if t}
        print()
        print("peak = VmHWM of the tool's process; growth = peak minus RSS after imports")
        print(
            f"{'tool':<8} {'seconds':>8} {'ratings':>12} {'peak MB':>9} {'growth MB':>10}"
            f" {'growth/arrays':>14}  checksum"
        )
        for tool, r in results.items():
            growth = (r["maxrss_bytes"] - r["baseline_bytes"]) / 1e6
            print(
                f"{tool:<8} {r['seconds']:8.2f} {r['n']:12,} {r['maxrss_bytes'] / 1e6:9,.0f}"
                f" {growth:10,.0f} {growth / final_mb:14.2f}  {r['checksum']}"
            )
        sums = {r["checksum"] for r in results.values()} | {args.n_ratings}
        same = len({r["checksum"] for r in results.values()}) == 1
        counts_ok = all(r["n"] == args.n_ratings for r in results.values())
        print(f"same ratings from every tool: {same and counts_ok} ({len(sums) - 1} checksum(s))")
        if "llmrec" in results:
            base = results["llmrec"]["seconds"]
            for tool in ("polars", "pandas"):
                if tool in results:
                    print(f"llmrec is {results[tool]['seconds'] / base:5.1f}x faster than {tool}")
            build = _measure("llmrec-cache-build", files, cache)
            cached = _measure("llmrec-cached", files, cache)
            print(
                f"cache: first load (parse + write) {build['seconds']:.2f} s, cached reload"
                f" {cached['seconds']:.3f} s (checksum {cached['checksum'] == build['checksum']})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
