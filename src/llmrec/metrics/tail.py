"""Long-tail metrics: how well a recommender finds relevant movies outside the most popular.

The **head** is a set of movie ids, by default the ``n_head = 100`` most-rated movies; every
other movie is in the **tail**. A tail metric (registry name ``FAMILY_tail@K``, e.g.
``precision_tail@5``, ``ndcg_tail@10``, ``mrr_tail``) is the plain metric computed with the
relevant set restricted to the tail:

.. math:: \\mathrm{M\\_tail@K}(L, G) = \\mathrm{M@K}(L,\\ G \\setminus H)

The ranked list ``L`` is left as it is: a head movie keeps its slot and is never a hit, so
``precision_tail@5`` = tail hits in the top 5 / 5. A user whose gold is entirely in the head
(``G ⊆ H``) has nothing to find in the tail and scores **0** on every tail metric; such users
stay in the mean (so that tail and plain metrics average over the same users and pair in
:func:`~llmrec.metrics.compare`) and are counted in the report's ``options["n_tail_empty"]``.
Users with no gold at all follow ``empty_truth`` as for every metric.

:func:`head_share` gives the share of recommended movies that are in the head, for reports.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
from typing import Any

import numpy as np

from llmrec.errors import ConfigError
from llmrec.metrics._common import check_k
from llmrec.metrics._hits import PAD

__all__ = ["DEFAULT_HEAD_SIZE", "head_items", "head_share", "tail_relevant"]

DEFAULT_HEAD_SIZE = 100
"""Number of most-rated movies that form the head when a popularity table is given."""


def head_items(head: Any, n_head: int = DEFAULT_HEAD_SIZE) -> frozenset[Hashable]:
    """The head as a frozenset of ids, from any of the forms ``evaluate(head=...)`` accepts.

    * a set, frozenset, list or tuple of ids: the head as given (``n_head`` is not used);
    * a mapping ``id → number of ratings``: the ``n_head`` ids with the most ratings, ties
      broken by the smaller id;
    * a 1-D numeric numpy array of rating counts indexed by movie id: the same, with the array
      index as the id.

    >>> sorted(head_items({10: 5, 11: 9, 12: 5, 13: 1}, n_head=2))
    [10, 11]
    """
    if isinstance(head, np.ndarray):
        if head.ndim != 1 or head.dtype.kind not in "iuf":
            raise ConfigError(
                "head as an array must be 1-D rating counts indexed by movie id "
                f"(got shape {head.shape}, dtype {head.dtype})"
            )
        n = check_k(n_head, "n_head")
        order = np.lexsort((np.arange(head.size), -head.astype(np.float64)))
        return frozenset(order[:n].tolist())
    if isinstance(head, Mapping):
        n = check_k(n_head, "n_head")
        try:
            ranked = sorted(head.items(), key=lambda kv: (-float(kv[1]), kv[0]))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"head as a mapping must map ids to numbers of ratings ({exc})"
            ) from None
        return frozenset(item for item, _ in ranked[:n])
    if isinstance(head, str | bytes) or not isinstance(head, Collection):
        raise ConfigError(
            "head must be a collection of movie ids, a mapping id → number of ratings, or an "
            f"array of rating counts indexed by id (got {type(head).__name__})"
        )
    return frozenset(head)


def tail_relevant(relevant: Any, head: Collection[Hashable]) -> Any:
    """Every user's relevant ids outside ``head``, in the input's form (padded arrays keep
    their shape, with head ids replaced by ``-1``; ragged rows become lists)."""
    if isinstance(relevant, np.ndarray) and relevant.ndim == 2 and relevant.dtype.kind in "iu":
        ids = np.fromiter((h for h in head if isinstance(h, int | np.integer)), dtype=np.int64)
        return np.where(np.isin(relevant, ids), PAD, relevant)
    rows = []
    for row in relevant:
        if isinstance(row, np.ndarray) and row.dtype.kind in "iu":
            row = row[row >= 0].tolist()
        rows.append([item for item in row if item not in head])
    return rows


def head_share(recommendations: Any, head: Any, n_head: int = DEFAULT_HEAD_SIZE) -> float:
    """Share of recommended movies that are in the head: head entries / all entries.

    ``recommendations`` is a mapping user → ranked list, a sequence of lists, or a ``-1``-padded
    integer array (padding is not an entry); ``head`` takes every form of :func:`head_items`.
    Repeated entries count each time. An empty input gives ``nan``.

    >>> head_share([[1, 2, 3, 4], [1, 9]], {1, 2})
    0.5
    """
    heads = head_items(head, n_head)
    lists = recommendations.values() if isinstance(recommendations, Mapping) else recommendations
    if isinstance(lists, np.ndarray):
        if lists.ndim != 2 or lists.dtype.kind not in "iu":
            raise ConfigError("recommendations as an array must be 2-D integer ids, -1 padded")
        valid = lists >= 0
        ids = np.fromiter((h for h in heads if isinstance(h, int | np.integer)), dtype=np.int64)
        total = int(valid.sum())
        hits = int((valid & np.isin(lists, ids)).sum())
    else:
        total = hits = 0
        for row in lists:
            if row is None:
                continue
            if isinstance(row, np.ndarray) and row.dtype.kind in "iu":
                row = row[row >= 0].tolist()
            for item in row:
                total += 1
                hits += item in heads
    return hits / total if total else float("nan")
