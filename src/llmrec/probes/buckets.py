"""Popularity buckets: head, torso and tail of a catalog by number of ratings.

Items are sorted by their number of ratings (most first, ties by smaller id) and cut where the
running share of all ratings passes the ``edges`` (default thirds): the **head** is the few
most-rated items holding the first third of all ratings, the **torso** the next third, the
**tail** the many rarely rated items holding the last third, plus every catalog item with no
rating. An item straddling an edge belongs to the bucket it starts in, so the head is never
empty when there are ratings. This is the equal-mass split of the long-tail literature (the
head/mid/tail of Abdollahpouri et al., 2019, with the cut points as a parameter); memorisation
is expected to fall from head to tail (Di Palma et al., SIGIR 2025, find recall concentrated
on popular items).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from llmrec.errors import ConfigError

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings

__all__ = ["BUCKETS", "popularity_buckets"]

BUCKETS = ("head", "torso", "tail")
"""The bucket names, most popular first."""


def popularity_buckets(
    catalog: Catalog, ratings: Ratings, edges: tuple[float, float] = (1 / 3, 2 / 3)
) -> dict[int, tuple[str, int]]:
    """Each catalog id's bucket and number of ratings (ratings of ids outside the catalog are
    not counted)."""
    low, high = edges
    if not 0.0 < low < high < 1.0:
        raise ConfigError(f"bucket edges must satisfy 0 < low < high < 1, got {edges}")
    ids = catalog.movie_ids.astype(np.int64)
    rated, counts = np.unique(ratings.movie_id.astype(np.int64), return_counts=True)
    n = np.zeros(ids.size, dtype=np.int64)
    where = np.searchsorted(ids, rated)
    inside = (where < ids.size) & (ids[np.minimum(where, ids.size - 1)] == rated)
    n[where[inside]] = counts[inside]
    order = np.lexsort((ids, -n))
    total = int(n.sum())
    before = np.cumsum(n[order]) - n[order]  # ratings of the items ranked above each item
    share = before / total if total else np.ones(ids.size)
    bucket = np.where(share < low, 0, np.where(share < high, 1, 2))
    bucket[n[order] == 0] = 2
    out: dict[int, tuple[str, int]] = {}
    for pos, b in zip(order.tolist(), bucket.tolist(), strict=True):
        out[int(ids[pos])] = (BUCKETS[b], int(n[pos]))
    return out
