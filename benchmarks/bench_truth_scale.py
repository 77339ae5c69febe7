"""Benchmark: the neighbour truth at Netflix scale: time and whole-tree memory, with anchors.

The data is ``llmrec.data.synthetic`` at the Netflix Prize's shape (480,189 users, 17,770
movies, 100,480,507 ratings, one rating per user and movie), generated once and saved as a
``Ratings`` folder (``--data``); ``--scale 0.1`` uses a tenth of the users and ratings.

One child process loads the folder (memory-mapped, the parse cached) and builds profileData50
for ``--targets`` targets with ``--jobs`` workers; a thread samples every 0.1 s the resident
(RSS) and proportional (PSS: shared pages split among their users) memory of the child and all
its descendants, summed. Both peaks are printed: the sum of RSS counts pages shared by the
workers once per process, the sum of PSS counts them once.

Same-run anchors (the machine is shared, so absolute times move with its load):

* ``scipy co-count``: the public ``scipy.sparse`` product ``N @ watched`` (int32, the whole
  ``watched``) for the same targets' neighbour sets, on one core, on ``--anchor-targets``
  targets, extrapolated per target;
* ``pandas gold``: the gold lists of the same sampled targets from their neighbour sets with
  pandas (``isin`` + ``value_counts`` + threshold + sort), extrapolated per target;
* ``--reference``: the implementation before the performance rework (``tests/truth``'s slow
  reference), one process, on ``--anchor-targets`` targets.

    python benchmarks/bench_truth_scale.py --data /scratch/netflix100m --targets 10000 --jobs 2
    python benchmarks/bench_truth_scale.py --data /scratch/netflix100m --targets all --jobs 2 \\
        --checkpoint /scratch/all-parts          # every user, resumable
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.data.ratings import Ratings
from llmrec.truth import NeighbourTruth

NETFLIX = {"n_users": 480_189, "n_movies": 17_770, "n_ratings": 100_480_507}


def generate(folder: Path, scale: float) -> None:
    """The synthetic Netflix-shaped ratings at ``scale``, saved as a Ratings folder."""
    from llmrec.data._netflix_format import FIRST_DAY
    from llmrec.data.synthetic import SyntheticConfig, _generate

    cfg = SyntheticConfig(
        n_users=int(NETFLIX["n_users"] * scale),
        n_movies=NETFLIX["n_movies"],
        n_ratings=int(NETFLIX["n_ratings"] * scale),
    )
    g = _generate(cfg)
    date = (FIRST_DAY + g.days).astype("datetime64[D]")
    Ratings(g.customer.astype(np.int32), g.movie.astype(np.int32), g.stars, date).save(folder)


# -- memory of a process tree ---------------------------------------------------------------------
def _pss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    return sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")) / 1024


def tree_memory(root: int) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) in MiB of ``root`` and all its descendants."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is in the [dev] extra
        return _pss_mb(root), _pss_mb(root)
    try:
        procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    rss = pss = 0.0
    for p in procs:
        try:
            rss += p.memory_info().rss / 2**20
        except psutil.Error:
            continue
        pss += _pss_mb(p.pid)
    return rss, pss


class Sampler:
    """Peak tree memory of this process, sampled on a thread every ``period`` seconds."""

    def __init__(self, period: float = 0.1) -> None:
        self.rss = self.pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(period,), daemon=True)

    def _run(self, period: float) -> None:
        while not self._stop.wait(period):
            rss, pss = tree_memory(os.getpid())
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- the child: one build -------------------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    targets = None if args.targets == "all" else int(args.targets)
    tool = NeighbourTruth.profile_data_50(n_users=targets)
    with Sampler() as mem:
        t0 = time.perf_counter()
        ratings = Ratings.load(args.data)
        ds = tool.build(
            ratings,
            n_jobs=args.jobs,
            progress=args.progress,
            checkpoint=args.checkpoint,
        )
        seconds = time.perf_counter() - t0
    out = {
        "seconds": seconds,
        "targets": ds.meta["n_targets"],
        "examples": len(ds),
        "peak_rss_mb": mem.rss,
        "peak_pss_mb": mem.pss,
        "gold_sha": _digest(ds),
    }
    if args.save:
        ds.save(args.save)
    print(json.dumps(out))


def _digest(ds: Any) -> str:
    import hashlib

    h = hashlib.sha256()
    for e in ds:
        h.update(json.dumps(e.to_dict(), separators=(",", ":")).encode())
    return h.hexdigest()


# -- anchors --------------------------------------------------------------------------------------
def anchors(args: argparse.Namespace) -> dict[str, float]:
    """Per-target seconds of the scipy co-count and pandas gold (one core), same targets."""
    import pandas as pd
    import scipy.sparse as sp

    from llmrec.truth import _batch
    from llmrec.truth._sparse import build_core

    ratings = Ratings.load(args.data)
    tool = NeighbourTruth.profile_data_50(
        n_users=None if args.targets == "all" else int(args.targets)
    )
    core = build_core(ratings, tool.config)
    targets = tool._targets(tool._eligible(core))
    rng = np.random.default_rng(1)
    sample = np.sort(
        rng.choice(targets, size=min(args.anchor_targets, targets.size), replace=False)
    )
    p_seg, p_movie, _, _ = _batch._profiles(core, sample, tool.config.profile_size)
    neighbours = _batch._neighbours(core, tool.config, sample, p_seg, p_movie)
    sizes = np.array([a.size for a in neighbours])
    flat = np.concatenate(neighbours).astype(np.int32)
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    n = sample.size
    indicator = sp.csr_array((np.ones(flat.size, np.int32), flat, ptr), shape=(n, core.n_users))
    watched = sp.csr_array(
        (np.ones(core.watched.nnz, np.int32), core.watched.indices, core.watched.indptr),
        shape=core.watched.shape,
    )
    t0 = time.perf_counter()
    counts = indicator @ watched
    scipy_s = (time.perf_counter() - t0) / n
    del counts
    frame = pd.DataFrame(
        {"user": np.asarray(ratings.user_id), "movie": np.asarray(ratings.movie_id)}
    )
    t0 = time.perf_counter()
    for i, nb in enumerate(neighbours):
        rows = frame[frame["user"].isin(core.user_ids[nb])]
        counts_t = rows["movie"].value_counts()
        gold = counts_t[counts_t * 2 >= nb.size]
        gold.sort_values(ascending=False).head(10 + 10)
        if i + 1 == args.pandas_targets:
            break
    pandas_s = (time.perf_counter() - t0) / min(args.pandas_targets, n)
    out = {"scipy_cocount_s_per_target": scipy_s, "pandas_gold_s_per_target": pandas_s}
    if args.reference:
        path = Path(__file__).resolve().parents[1] / "tests" / "truth" / "slow_truth_reference.py"
        spec = importlib.util.spec_from_file_location("slow_truth_reference", path)
        assert spec is not None and spec.loader is not None
        ref = importlib.util.module_from_spec(spec)
        sys.modules["slow_truth_reference"] = ref
        spec.loader.exec_module(ref)
        t0 = time.perf_counter()
        ref_core = ref.build_core(ratings, tool.config)
        out["reference_core_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for lo in range(0, n, 751):  # the batch size it chose at this scale
            ref.run_batch(ref_core, tool.config, sample[lo : lo + 751].astype(np.int64))
        out["reference_s_per_target"] = (time.perf_counter() - t0) / n
        del ref_core
        t0 = time.perf_counter()
        build_core(ratings, tool.config)
        out["ours_core_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        _batch_run = list(tool._run(core, sample, 1, None, False, None, False))
        out["ours_one_core_s_per_target"] = (time.perf_counter() - t1) / n
        del _batch_run
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="saved Ratings folder")
    parser.add_argument("--scale", type=float, default=1.0, help="of Netflix, when generating")
    parser.add_argument("--targets", default="10000", help="number of targets, or 'all'")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--save", type=Path, default=None, help="write the truth here")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--anchor-targets", type=int, default=300)
    parser.add_argument("--pandas-targets", type=int, default=5)
    parser.add_argument("--reference", action="store_true", help="time the old implementation")
    parser.add_argument("--no-anchors", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not (args.data / "meta.json").exists():
        t0 = time.perf_counter()
        generate(args.data, args.scale)
        print(f"data generated and saved in {time.perf_counter() - t0:.0f} s", flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}", flush=True)
    cmd = [sys.executable, __file__, "--child", "--data", str(args.data)]
    cmd += ["--targets", args.targets, "--jobs", str(args.jobs)]
    if args.checkpoint:
        cmd += ["--checkpoint", str(args.checkpoint)]
    if args.save:
        cmd += ["--save", str(args.save)]
    if args.progress:
        cmd += ["--progress"]
    run = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    print(
        f"llmrec profileData50: {out['targets']:,} targets ({out['examples']:,} kept) in "
        f"{out['seconds']:.1f} s with {args.jobs} job(s), load + core + build; peak memory of "
        f"the process tree: {out['peak_rss_mb']:,.0f} MiB RSS summed, "
        f"{out['peak_pss_mb']:,.0f} MiB PSS summed",
        flush=True,
    )
    print(f"gold digest {out['gold_sha'][:16]}", flush=True)
    if args.no_anchors:
        return
    a = anchors(args)
    n = out["targets"]
    print(
        f"anchor scipy co-count (public @, int32, one core): "
        f"{a['scipy_cocount_s_per_target'] * 1e3:.1f} ms/target -> "
        f"{a['scipy_cocount_s_per_target'] * n:.0f} s for {n:,} targets",
        flush=True,
    )
    print(
        f"anchor pandas gold aggregation (one core): {a['pandas_gold_s_per_target'] * 1e3:.0f} "
        f"ms/target -> {a['pandas_gold_s_per_target'] * n:.0f} s for {n:,} targets",
        flush=True,
    )
    if "reference_s_per_target" in a:
        print(
            f"before the rework, one core: {a['reference_s_per_target'] * 1e3:.1f} ms/target; "
            f"now, one core: {a['ours_one_core_s_per_target'] * 1e3:.1f} ms/target "
            f"({a['reference_s_per_target'] / a['ours_one_core_s_per_target']:.2f}x); matrices "
            f"built in {a['reference_core_s']:.1f} s before, {a['ours_core_s']:.1f} s now",
            flush=True,
        )


if __name__ == "__main__":
    main()
