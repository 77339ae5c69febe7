"""``NeighbourTruth``: builds the study's ground truth (profileData50 / profileData60).

The work is split into batches of targets processed by :func:`llmrec.truth._batch.run_batch`;
batches run in this process, in local worker processes (``n_jobs``) or on any
``concurrent.futures.Executor`` (a Dask or Ray executor spreads them over a cluster). Every
random draw is seeded per target, and results are assembled in target order, so the output is
identical whatever the batch size, the number of workers or the executor.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
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
_BATCH_BUDGET = 1 << 25  # overlap entries held per batch (about 256 MB of CSR)


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
    ) -> ProfileDataset:
        """Build the ground truth for the configured targets.

        ``n_jobs`` > 1 runs batches in that many local processes (-1: one per CPU); the
        matrices reach them once, by fork where the platform has it. ``executor`` (any
        ``concurrent.futures.Executor``) takes precedence; it receives the matrices with every
        batch, so use few, large batches (``batch_size``) on a remote cluster; twice
        ``max(n_jobs, cpu_count)`` batches are kept in flight. ``batch_size``
        (targets per batch) is chosen from the data's size when not given; it never changes
        the output.
        """
        from llmrec.truth import _batch
        from llmrec.truth._sparse import build_core

        core = build_core(ratings, self.config)
        eligible = self._eligible(core)
        targets = self._targets(eligible)
        examples: list[Example] = []
        left_out = {"no_neighbours": 0, "empty_gold": 0}
        results = self._run(core, targets, n_jobs, executor, progress, batch_size, False)
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
            "top_movies": _top_movies(core),
        }
        return ProfileDataset(examples, meta)

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
        from llmrec.truth._batch import run_batch

        workers = _n_workers(n_jobs)
        size = batch_size if batch_size is not None else _auto_batch_size(core, self.config)
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if executor is None and workers > 1:  # enough batches to keep every worker busy
            size = max(1, min(size, -(-targets.size // (4 * workers))))
        batches = [targets[i : i + size] for i in range(0, targets.size, size)]
        config = self.config
        if executor is None and workers == 1:
            with progress_bar(enabled=progress, total=targets.size, desc="truth") as bar:
                for batch in batches:
                    res = run_batch(core, config, batch, with_neighbours)
                    bar.update(batch.size)
                    yield res
            return
        if executor is not None:
            yield from _ordered(
                lambda b: executor.submit(run_batch, core, config, b, with_neighbours),
                batches,
                window=2 * max(workers, os.cpu_count() or 1),
                progress=progress,
                total=targets.size,
            )
            return
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_mp_context(),
            initializer=_init_worker,
            initargs=(core, config),
        ) as pool:
            yield from _ordered(
                lambda b: pool.submit(_run_in_worker, b, with_neighbours),
                batches,
                window=len(batches),
                progress=progress,
                total=targets.size,
            )


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
) -> Iterator[BatchResult]:
    """Submit batches keeping at most ``window`` in flight; yield results in batch order."""
    pending: deque[tuple[Future[BatchResult], int]] = deque()
    queue = iter(batches)
    for batch in queue:
        pending.append((submit(batch), batch.size))
        if len(pending) >= window:
            break
    # the bar (and its monitor thread) starts after the first submissions forked the workers
    with progress_bar(enabled=progress, total=total, desc="truth") as bar:
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
