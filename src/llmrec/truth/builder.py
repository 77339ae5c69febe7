"""``NeighbourTruth``: builds the study's ground truth (profileData50 / profileData60).

The work is split into batches of targets processed by :func:`llmrec.truth._batch.run_batch`;
batches run in this process, in local worker processes (``n_jobs``) or on any
``concurrent.futures.Executor`` (a Dask or Ray executor spreads them over a cluster). Every
random draw is seeded per target, and results are assembled in target order, so the output is
identical whatever the batch size, the number of workers or the executor.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pydantic

from llmrec._progress import progress_bar
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError
from llmrec.truth.config import TruthConfig
from llmrec.truth.dataset import Example, ProfileDataset

if TYPE_CHECKING:  # scipy.sparse loads with these modules, only when a truth is built
    from llmrec.truth._batch import BatchResult
    from llmrec.truth._sparse import Core

__all__ = ["NeighbourTruth"]

FORMAT = "llmrec-truth/1"
_TOP_MOVIES = 100
_BATCH_BUDGET = 1 << 23  # overlap entries held per batch (about 50 MB with int16 counts)


class NeighbourTruth:
    """The neighbour-based ground truth of the study, on a scipy.sparse core.

    ``NeighbourTruth(config).build(ratings)`` returns a :class:`ProfileDataset` with one
    :class:`Example` (``user_id``, ``profile``, ``gold``, ``n_neighbours``) per target that has
    neighbours and a non-empty gold list, in user-id order; the others are counted in
    ``meta["left_out"]``. See :mod:`llmrec.truth._batch` for the linear algebra.
    """

    def __init__(self, config: TruthConfig | None = None, **overrides: Any) -> None:
        base = config if config is not None else TruthConfig()
        if overrides:
            base = _validated({**base.model_dump(), **overrides})
        self.config: TruthConfig = base
        self._device: str | None = None  # set by build(device=...)

    def __repr__(self) -> str:
        return f"NeighbourTruth({self.config!r})"

    # -- presets ----------------------------------------------------------------------------
    @classmethod
    def profile_data_50(cls, **overrides: Any) -> NeighbourTruth:
        """profileData50: neighbours gave a profile movie 5 stars; gold watched by >= 50 %."""
        fields: dict[str, Any] = {
            "name": "profileData50",
            "neighbour_min_rating": 5,
            "watch_factor": 0.5,
        }
        return cls(_validated({**fields, **overrides}))

    @classmethod
    def profile_data_60(cls, **overrides: Any) -> NeighbourTruth:
        """profileData60: neighbours gave a profile movie 4 or 5 stars; gold watched by >= 60 %."""
        fields: dict[str, Any] = {
            "name": "profileData60",
            "neighbour_min_rating": 4,
            "watch_factor": 0.6,
        }
        return cls(_validated({**fields, **overrides}))

    # -- targets ----------------------------------------------------------------------------
    def eligible_users(self, ratings: Ratings) -> npt.NDArray[np.int32]:
        """Raw ids (ascending) of users with at least ``min_five_star`` 5-star ratings."""
        if self.config.min_five_star == 0:
            return np.unique(np.asarray(ratings.user_id)).astype(np.int32)
        five = np.asarray(ratings.user_id)[np.asarray(ratings.rating) == 5]
        ids, counts = np.unique(five, return_counts=True)
        return ids[counts >= self.config.min_five_star].astype(np.int32)

    def _eligible(self, core: Core) -> npt.NDArray[np.int64]:
        return np.flatnonzero(core.five_star >= self.config.min_five_star).astype(np.int64)

    def _targets(self, eligible: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        n = self.config.n_users
        if n is None or n >= eligible.size:
            return eligible
        rng = np.random.default_rng([self.config.seed, 0])
        return np.sort(eligible[rng.choice(eligible.size, size=n, replace=False)])

    # -- building ---------------------------------------------------------------------------
    def build(
        self,
        ratings: Ratings,
        *,
        n_jobs: int = 1,
        executor: Executor | None = None,
        progress: bool = True,
        batch_size: int | None = None,
        checkpoint: str | Path | None = None,
        chunk_size: int = 8192,
        device: str | None = None,
    ) -> ProfileDataset:
        """Build the ground truth for the configured targets.

        ``n_jobs`` > 1 runs batches in that many local processes (-1: one per CPU); the
        matrices reach them once, by fork where the platform has it. ``executor`` (any
        ``concurrent.futures.Executor``) takes precedence; it receives the matrices with every
        batch, so use few, large batches (``batch_size``) on a remote cluster; twice
        ``max(n_jobs, cpu_count)`` batches are kept in flight. ``batch_size``
        (targets per batch) is chosen from the data's size when not given; it never changes
        the output.

        ``checkpoint`` (a folder) makes the build resumable: targets are processed in chunks of
        ``chunk_size`` and each finished chunk is saved there; a rerun with the same folder
        loads them and computes only the rest (see :mod:`llmrec.truth._chunks`). The result is
        the same as without it.

        ``device`` counts co-occurrences with torch (the ``[train]`` extra): ``"cuda"``,
        ``"auto"`` (CUDA when torch sees a GPU, else scipy) or ``"cpu"`` (torch's CPU device);
        the result is identical to the default scipy kernel. With a device, batches run in this
        process (``n_jobs`` is not used), tiled to fit the device's memory.
        """
        from llmrec.truth import _batch
        from llmrec.truth._sparse import build_core

        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be at least 1, got {chunk_size}")
        from llmrec.truth._device import resolve_device

        self._device = resolve_device(device)
        if self._device is not None:
            n_jobs = 1
        core = build_core(ratings, self.config)
        eligible = self._eligible(core)
        targets = self._targets(eligible)
        top_movies = _top_movies(core)
        examples: list[Example] = []
        left_out = {"no_neighbours": 0, "empty_gold": 0}
        if checkpoint is None:
            results = self._run(core, targets, n_jobs, executor, progress, batch_size, False)
        else:
            results = self._resumable(
                core,
                targets,
                ratings.fingerprint(),
                Path(checkpoint),
                chunk_size,
                n_jobs,
                executor,
                progress,
                batch_size,
            )
        del core  # the runs hold it; local workers take it over (see _run_batches)
        for res in results:
            left_out["no_neighbours"] += int(np.sum(res.status == _batch.STATUS_NO_NEIGHBOURS))
            left_out["empty_gold"] += int(np.sum(res.status == _batch.STATUS_EMPTY_GOLD))
            examples.extend(_examples(res))
        meta = {
            "format": FORMAT,
            "name": self.config.name,
            "config": self.config.model_dump(mode="json"),
            "ratings_fingerprint": ratings.fingerprint(),
            "n_eligible": int(eligible.size),
            "n_targets": int(targets.size),
            "left_out": left_out,
            "top_movies": top_movies,
        }
        return ProfileDataset(examples, meta)

    def _resumable(
        self,
        core: Core,
        targets: npt.NDArray[np.int64],
        fingerprint: str,
        folder: Path,
        chunk_size: int,
        n_jobs: int,
        executor: Executor | None,
        progress: bool,
        batch_size: int | None,
    ) -> Iterator[BatchResult]:
        """Chunks of targets: finished ones loaded from ``folder``, the others computed (in
        one pool) and saved as each completes; yielded in target order."""
        from llmrec.truth._chunks import ChunkStore, merge_results, targets_sha256

        store = ChunkStore(
            folder,
            {
                "config": self.config.model_dump(mode="json"),
                "ratings_fingerprint": fingerprint,
                "n_targets": int(targets.size),
                "targets_sha256": targets_sha256(core.user_ids[targets]),
                "chunk_size": chunk_size,
            },
        )
        store.open()
        chunks = [targets[i : i + chunk_size] for i in range(0, targets.size, chunk_size)]
        finished: dict[int, BatchResult] = {}
        for i, chunk in enumerate(chunks):
            loaded = store.load(i, core.user_ids[chunk])
            if loaded is not None:
                finished[i] = loaded
        todo = [i for i in range(len(chunks)) if i not in finished]
        size = self._batch_size(core, targets.size, n_jobs, executor, batch_size)
        batches: list[npt.NDArray[np.int64]] = []
        owner: list[int] = []
        for i in todo:
            for lo in range(0, chunks[i].size, size):
                batches.append(chunks[i][lo : lo + size])
                owner.append(i)
        done = sum(chunks[i].size for i in finished)
        parts: list[BatchResult] = []
        runs = self._run_batches(
            core, batches, n_jobs, executor, progress, False, int(targets.size), done
        )
        del core
        for j, res in enumerate(runs):
            parts.append(res)
            if j + 1 == len(batches) or owner[j + 1] != owner[j]:
                merged = merge_results(parts)
                store.save(owner[j], merged)
                finished[owner[j]] = merged
                parts = []
        for i in range(len(chunks)):
            yield finished[i]

    def neighbours(
        self,
        ratings: Ratings,
        user_ids: Sequence[int] | npt.ArrayLike,
        *,
        batch_size: int | None = None,
    ) -> dict[int, npt.NDArray[np.int32]]:
        """The (sampled) neighbours of each given user, as sorted raw user ids.

        These are exactly the neighbours :meth:`build` counts for that user as a target, which
        makes the truth auditable: ``gold`` can be recomputed from them by hand.
        """
        from llmrec.truth._sparse import build_core

        core = build_core(ratings, self.config)
        wanted = np.asarray(user_ids, dtype=np.int64).ravel()
        dense = np.searchsorted(core.user_ids, wanted)
        bad = (dense >= core.n_users) | (
            core.user_ids[np.minimum(dense, core.n_users - 1)] != wanted
        )
        if core.n_users == 0 or bool(bad.any()):
            missing = wanted[bad] if core.n_users else wanted
            raise ConfigError(f"user {int(missing[0])} has no ratings in this table")
        out: dict[int, npt.NDArray[np.int32]] = {}
        for res in self._run(core, dense, 1, None, False, batch_size, True):
            if res.neighbours is None or res.neighbours_ptr is None:  # pragma: no cover
                raise RuntimeError("run_batch did not return the neighbour sets")
            for i, uid in enumerate(res.targets.tolist()):
                lo, hi = int(res.neighbours_ptr[i]), int(res.neighbours_ptr[i + 1])
                out[int(uid)] = np.sort(res.neighbours[lo:hi])
        return out

    # -- scheduling -------------------------------------------------------------------------
    def _batch_size(
        self,
        core: Core,
        n_targets: int,
        n_jobs: int,
        executor: Executor | None,
        batch_size: int | None,
    ) -> int:
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        workers = _n_workers(n_jobs)
        size = batch_size if batch_size is not None else _auto_batch_size(core, self.config)
        if executor is None and workers > 1:  # enough batches to keep every worker busy
            size = max(1, min(size, -(-n_targets // (4 * workers))))
        return size

    def _run(
        self,
        core: Core,
        targets: npt.NDArray[np.int64],
        n_jobs: int,
        executor: Executor | None,
        progress: bool,
        batch_size: int | None,
        with_neighbours: bool,
    ) -> Iterator[BatchResult]:
        size = self._batch_size(core, targets.size, n_jobs, executor, batch_size)
        batches = [targets[i : i + size] for i in range(0, targets.size, size)]
        return self._run_batches(
            core, batches, n_jobs, executor, progress, with_neighbours, int(targets.size), 0
        )

    def _run_batches(
        self,
        core: Core,
        batches: list[npt.NDArray[np.int64]],
        n_jobs: int,
        executor: Executor | None,
        progress: bool,
        with_neighbours: bool,
        total: int,
        done: int,
    ) -> Iterator[BatchResult]:
        """Results of ``batches`` in order; the bar counts ``total`` targets, ``done`` of them
        finished before (a resumed build)."""
        from llmrec.truth._batch import run_batch

        workers = _n_workers(n_jobs)
        config = self.config
        device = self._device
        if device is not None or (executor is None and workers == 1):
            with progress_bar(enabled=progress, total=total, desc="truth") as bar:
                bar.update(done)
                for batch in batches:
                    res = run_batch(core, config, batch, with_neighbours, device)
                    bar.update(batch.size)
                    yield res
            return
        if executor is not None:
            job = functools.partial(run_batch, core, config)
            yield from _ordered(
                lambda b: executor.submit(job, b, with_neighbours),
                batches,
                window=2 * max(workers, os.cpu_count() or 1),
                progress=progress,
                total=total,
                done=done,
            )
            return
        if not batches:
            return
        context = _mp_context()
        forked = context.get_start_method() == "fork"
        folder = tempfile.TemporaryDirectory(prefix="llmrec-truth-") if forked else None
        if folder is not None:  # the workers map the matrices from files (in TMPDIR): no
            # pickling, no initargs kept, no copy of the parent's pages in their page tables
            from llmrec.truth._sparse import forget_shared_ones, mapped_core

            try:
                core = mapped_core(core, folder.name)
                forget_shared_ones()
            except OSError:  # no room in the temporary folder: the workers inherit the core
                folder.cleanup()
                folder = None
            _WORKER_STATE.update(core=core, config=config)
        try:
            init: dict[str, Any] = {} if forked else {"initializer": _init_worker}
            if not forked:
                init["initargs"] = (core, config)
            with ProcessPoolExecutor(max_workers=workers, mp_context=context, **init) as pool:
                ordered = _ordered(
                    lambda b: pool.submit(_run_in_worker, b, with_neighbours),
                    batches,
                    window=len(batches),
                    progress=progress,
                    total=total,
                    done=done,
                    started=_release if forked else None,
                )
                del core
                yield from ordered
        finally:
            _WORKER_STATE.clear()
            if folder is not None:
                folder.cleanup()


# -- helpers --------------------------------------------------------------------------------
def _validated(fields: dict[str, Any]) -> TruthConfig:
    try:
        return TruthConfig.model_validate(fields)
    except pydantic.ValidationError as exc:
        raise ConfigError.from_validation("truth configuration", exc) from None


_WORKER_STATE: dict[str, Any] = {}


def _init_worker(core: Core, config: TruthConfig) -> None:
    _WORKER_STATE["core"] = core
    _WORKER_STATE["config"] = config


def _run_in_worker(batch: npt.NDArray[np.int64], with_neighbours: bool) -> BatchResult:
    from llmrec.truth._batch import run_batch

    return run_batch(_WORKER_STATE["core"], _WORKER_STATE["config"], batch, with_neighbours)


def _release() -> None:
    """In the parent, once forked workers hold the matrices: drop its own references, so the
    pages are held by the workers alone (the parent's memory falls to the results)."""
    from llmrec.truth._sparse import forget_shared_ones

    _WORKER_STATE.clear()
    forget_shared_ones()


def _mp_context() -> Any:
    """Fork on Linux (workers inherit the matrices without a copy), the default elsewhere."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _n_workers(n_jobs: int) -> int:
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ConfigError(f"n_jobs must be a positive number or -1, got {n_jobs}")
    return n_jobs


def _auto_batch_size(core: Core, config: TruthConfig) -> int:
    """Targets per batch so that the overlap matrix stays near ``_BATCH_BUDGET`` entries.

    A profile movie is picked roughly in proportion to its number of fans, so a target's
    candidate count is estimated as ``profile_size * sum(f^2) / sum(f)`` (capped at the user
    count), ``f`` the fans per movie.
    """
    fans = np.diff(core.fans.indptr).astype(np.float64)
    total = float(fans.sum())
    per_movie = float((fans * fans).sum() / total) if total else 1.0
    per_target = min(float(core.n_users), config.profile_size * per_movie)
    per_target = max(per_target, float(core.n_movies), 1.0)
    return int(min(1024, max(8, _BATCH_BUDGET // per_target)))


def _ordered(
    submit: Callable[[npt.NDArray[np.int64]], Future[BatchResult]],
    batches: list[npt.NDArray[np.int64]],
    *,
    window: int,
    progress: bool,
    total: int,
    done: int = 0,
    started: Callable[[], None] | None = None,
) -> Iterator[BatchResult]:
    """Submit batches keeping at most ``window`` in flight; yield results in batch order.
    ``started`` runs once the first batches are submitted (the workers exist)."""
    pending: deque[tuple[Future[BatchResult], int]] = deque()
    queue = iter(batches)
    for batch in queue:
        pending.append((submit(batch), batch.size))
        if len(pending) >= window:
            break
    if started is not None:
        started()
    # the bar (and its monitor thread) starts after the first submissions forked the workers
    with progress_bar(enabled=progress, total=total, desc="truth") as bar:
        bar.update(done)
        while pending:
            future, n = pending.popleft()
            result = future.result()
            bar.update(n)
            nxt = next(queue, None)
            if nxt is not None:
                pending.append((submit(nxt), nxt.size))
            yield result


def _examples(res: BatchResult) -> list[Example]:
    out: list[Example] = []
    profile, gold = res.profile.tolist(), res.gold.tolist()
    pp, gp = res.profile_ptr.tolist(), res.gold_ptr.tolist()
    for i, (uid, status, n) in enumerate(
        zip(res.targets.tolist(), res.status.tolist(), res.n_neighbours.tolist(), strict=True)
    ):
        if status != 0:
            continue
        out.append(
            Example(
                user_id=int(uid),
                profile=tuple(profile[pp[i] : pp[i + 1]]),
                gold=tuple(gold[gp[i] : gp[i + 1]]),
                n_neighbours=int(n),
            )
        )
    return out


def _top_movies(core: Core) -> list[int]:
    """The most-rated movies (raw ids; ties by id), for the popularity share in stats()."""
    order = np.lexsort((core.movie_ids, -core.popularity))[:_TOP_MOVIES]
    return [int(m) for m in core.movie_ids[order]]
