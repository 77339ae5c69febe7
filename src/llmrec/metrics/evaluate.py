"""``evaluate``: many metrics over many users in one pass, with bootstrap confidence intervals.

Inputs, in one of three shapes:

* ``Mapping[user → ranked sequence]`` and ``Mapping[user → relevant collection]``: users are the
  truth's keys, in the truth's order. A truth user without recommendations (absent or ``None``)
  gets an empty list (so scores 0, counted in ``n_missing``); recommendations for users absent
  from the truth are ignored (counted in ``n_ignored``).
* aligned sequences: ``recommendations[i]`` belongs with ``truth[i]``; users are ``0..n-1``.
* aligned padded integer arrays (users × ranks, ``-1`` padding): the fastest path.

Users whose truth set is empty are skipped and counted (``empty_truth="skip"``, default),
scored 0 (``"zero"``) or raise (``"raise"``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from itertools import repeat
from operator import is_
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError
from llmrec.metrics._bootstrap import bootstrap_ci
from llmrec.metrics._common import EmptyRelevant, check_empty_relevant
from llmrec.metrics._hits import build_hit_matrix, count_duplicates, to_padded
from llmrec.metrics.registry import MetricSpec, resolve_metric
from llmrec.metrics.report import MetricReport
from llmrec.metrics.tail import DEFAULT_HEAD_SIZE, head_items, head_share, tail_relevant

__all__ = ["DEFAULT_METRICS", "evaluate"]

DEFAULT_METRICS: tuple[str, ...] = (
    "precision@3",
    "recall@5",
    "f1@5",
    "mrr",
    "map@5",
    "ndcg@10",
    "hit@5",
)


def _align(
    recommendations: Any, truth: Any
) -> tuple[list[Hashable], Any, Any, npt.NDArray[np.bool_], int]:
    """Users, aligned ranked lists, aligned truth sets, a has-no-list mask, n_ignored."""
    rec_map = isinstance(recommendations, Mapping)
    truth_map = isinstance(truth, Mapping)
    if rec_map != truth_map:
        raise ConfigError(
            "recommendations and truth must both be mappings (user → items) or both be "
            f"aligned sequences (got {type(recommendations).__name__} and "
            f"{type(truth).__name__})"
        )
    if rec_map:
        users = list(truth)
        relevant = list(truth.values())
        if list(recommendations) == users:  # same users, same order: no hash look-ups
            ranked = list(recommendations.values())
        else:
            ranked = list(map(recommendations.get, users))
        # identity tests in C (``==`` could broadcast on array rows)
        missing = np.fromiter(map(is_, ranked, repeat(None)), dtype=bool, count=len(users))
        n_matched = len(users)  # recommendation keys that are truth users
        if missing.any():
            ranked = [() if r is None else r for r in ranked]
            # a truth user mapped to None is matched (and missing), not ignored
            n_matched -= sum(users[i] not in recommendations for i in np.flatnonzero(missing))
        n_ignored = len(recommendations) - n_matched
        return users, ranked, relevant, missing, n_ignored
    if isinstance(recommendations, str | bytes) or isinstance(truth, str | bytes):
        raise ConfigError("recommendations and truth must be sequences of lists, not strings")
    n_rec, n_truth = len(recommendations), len(truth)
    if n_rec != n_truth:
        raise ConfigError(
            f"aligned recommendations and truth differ in length ({n_rec} != {n_truth}); "
            "pass mappings keyed by user to align them by id"
        )
    return list(range(n_truth)), recommendations, truth, np.zeros(n_truth, bool), 0


def _width(specs: Sequence[MetricSpec]) -> int | None:
    batch = [s for s in specs if s.batch is not None]
    if any(s.k is None for s in batch):
        return None
    return max((s.k for s in batch if s.k is not None), default=1)


def _original(lists: Any, i: int) -> list[Hashable]:
    """User ``i``'s list as given (padding dropped from integer arrays)."""
    row = lists[i]
    if isinstance(row, np.ndarray):
        if row.dtype.kind in "iu":
            row = row[row >= 0]
        out: list[Hashable] = row.tolist()
        return out
    return list(row)


def _head_share(ranked: Any, kept: npt.NDArray[np.intp], heads: frozenset[Hashable]) -> float:
    """Share of the evaluated users' recommended entries that are head movies."""
    if isinstance(ranked, np.ndarray) and ranked.ndim == 2:
        return head_share(ranked[kept], heads)
    return head_share([ranked[i] for i in kept.tolist()], heads)


def evaluate(
    recommendations: Any,
    truth: Any,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    empty_truth: EmptyRelevant = "skip",
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    head: Any = None,
    n_head: int = DEFAULT_HEAD_SIZE,
) -> MetricReport:
    """Score every user on every metric and summarise (see the module docstring for inputs).

    ``metrics`` are registry names (``"precision@3"``, ``"mrr"``, ``"map@5"``,
    ``"map_relevant@5"``, ...; see :func:`~llmrec.metrics.available_metrics`). Means are means of
    per-user values over the evaluated users; ``ci`` holds seeded percentile-bootstrap intervals
    (``n_bootstrap=0`` skips them; the cost grows as ``n_bootstrap × users``).

    Tail metrics (``"precision_tail@5"``, any ``FAMILY_tail``) need ``head``: a collection of
    head movie ids, or a popularity table (mapping id → ratings, or an array of counts indexed
    by id) whose ``n_head`` most-rated movies form the head (see :mod:`llmrec.metrics.tail`).
    With ``head`` given, the report also holds ``head_share``, the share of recommended movies
    in the head.

    >>> report = evaluate({"u": ["a", "b"]}, {"u": {"b"}}, ["precision@2", "mrr"], n_bootstrap=0)
    >>> report.means
    {'precision@2': 0.5, 'mrr': 0.5}
    """
    policy = check_empty_relevant(empty_truth)
    if isinstance(metrics, str):
        metrics = [metrics]
    specs = [resolve_metric(m) for m in metrics]
    if not specs:
        raise ConfigError("evaluate needs at least one metric name")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"metric names repeat after resolving aliases: {names}")

    users, ranked, relevant, missing, n_ignored = _align(recommendations, truth)
    if head is None and any(s.tail for s in specs):
        tails = [s.name for s in specs if s.tail]
        raise ConfigError(
            f"tail metrics {tails} need the head: pass head=set_of_movie_ids or a popularity "
            "table (mapping id → number of ratings, or an array of counts indexed by id)"
        )
    heads = None if head is None else head_items(head, n_head)
    ranked_pad, relevant_pad = to_padded(ranked, relevant)
    width = _width(specs)
    hm = build_hit_matrix(ranked_pad, relevant_pad, width)
    empty = hm.n_relevant == 0
    if policy == "raise" and empty.any():
        first = int(np.flatnonzero(empty)[0])
        raise ConfigError(
            f"user {users[first]!r} has an empty truth set ({int(empty.sum())} such users); "
            "pass empty_truth='skip' or 'zero'"
        )
    keep = ~empty if policy == "skip" else np.ones_like(empty)
    kept = np.flatnonzero(keep)
    everyone = kept.size == len(users)

    tail_truth: Any = None
    hm_tail = None
    if heads is not None and any(s.tail for s in specs):
        tail_truth = tail_relevant(relevant, heads)
        hm_tail = build_hit_matrix(ranked, tail_truth, width)

    values: dict[str, npt.NDArray[np.float64]] = {}
    for spec in specs:
        if spec.tail and hm_tail is not None:
            grid, truth_lists = hm_tail, tail_truth
        else:
            grid, truth_lists = hm, relevant
        no_gold = grid.n_relevant == 0
        if spec.batch is not None:
            full = np.asarray(spec.batch(grid, spec.k), dtype=np.float64)
        else:
            full = np.zeros(len(users), dtype=np.float64)
            for i in kept.tolist():
                if not no_gold[i]:
                    full[i] = spec.single(_original(ranked, i), _original(truth_lists, i))
        if no_gold.any():
            full = np.where(no_gold, 0.0, full)
        values[spec.name] = full if everyone else full[kept]

    if n_bootstrap and kept.size:
        stacked = np.column_stack([values[n] for n in names])
        lo, hi = bootstrap_ci(stacked, n_bootstrap, confidence, seed)
    else:
        lo, hi = bootstrap_ci(np.zeros((0, len(names))), n_bootstrap, confidence, seed)
    dup, total = count_duplicates(ranked_pad if everyone else ranked_pad[kept])
    options: dict[str, Any] = {"metrics": list(metrics), "empty_truth": policy}
    if heads is not None:
        options["head_size"] = len(heads)
        if hm_tail is not None:
            options["n_tail_empty"] = int((hm_tail.n_relevant[kept] == 0).sum())
    n_total = int(total.sum())
    return MetricReport(
        users=users if everyone else [users[i] for i in kept.tolist()],
        values=values,
        means={n: float(v.mean()) if v.size else float("nan") for n, v in values.items()},
        ci={n: (float(lo[j]), float(hi[j])) for j, n in enumerate(names)},
        n_evaluated=int(kept.size),
        n_skipped=int(empty.sum()) if policy == "skip" else 0,
        duplicate_rate=float(dup.sum()) / n_total if n_total else 0.0,
        n_missing=int(missing[kept].sum()),
        n_ignored=n_ignored,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        seed=seed,
        options=options,
        head_share=None if heads is None else _head_share(ranked, kept, heads),
    )
