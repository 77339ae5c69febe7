"""k-core filtering: keep only users and items with at least ``k`` ratings, to the fixed point.

Removing a sparse user can leave an item under ``k`` ratings, whose removal can leave another
user under ``k``, and so on; the filter repeats until nothing changes. The result does not
depend on the order of removals: it is the largest sub-table in which every kept user (and
item) has at least ``k`` rows, the "k-core" RecBole (``user_inter_num_interval: "[k,inf)"``),
OpenP5 and most sequential-recommendation papers filter by. Counts are of rows, so a repeated
(user, item) pair counts twice, as in RecBole.

Each round is two ``np.bincount`` calls and one mask over the rows still kept; the rows shrink
every round, so the total work is a few passes over the table.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from llmrec.data.ratings import Ratings

__all__ = ["kcore"]


def _codes(ids: npt.NDArray[np.int32]) -> tuple[npt.NDArray[np.int64], int]:
    """Dense codes ``0..m-1`` for ``ids`` (for bincount), and ``m``."""
    lo = int(ids.min())
    span = int(ids.max()) - lo + 1
    if span <= 4 * ids.size + 1024:  # ids are dense enough: offset them, no sort needed
        return ids.astype(np.int64) - lo, span
    uniq, inverse = np.unique(ids, return_inverse=True)
    return inverse.ravel().astype(np.int64), int(uniq.size)


def kcore(ratings: Ratings, k: int, *, users: bool = True, items: bool = True) -> Ratings:
    """The rows whose user and item each keep at least ``k`` rows, iterated to the fixed point.

    ``users=False`` (or ``items=False``) leaves that side unconstrained: ``kcore(r, 5,
    items=False)`` keeps the users with at least 5 ratings, once. Rows keep their order, and
    the table keeps its ``time`` and source ids. ``k <= 1`` returns every row.

    >>> import numpy as np
    >>> r = Ratings([1, 1, 2, 2, 3], [7, 8, 7, 8, 7], [5] * 5, np.zeros(5, "datetime64[D]"))
    >>> kcore(r, 2).user_id.tolist()  # user 3 has one rating
    [1, 1, 2, 2]
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"k must be an integer, got {k!r}")
    n = len(ratings)
    if n == 0 or k <= 1 or not (users or items):
        return ratings.take(np.arange(n))
    u, n_u = _codes(ratings.user_id)
    m, n_m = _codes(ratings.movie_id)
    rows = np.arange(n, dtype=np.int64)
    while rows.size:
        keep = np.ones(rows.size, dtype=bool)
        if users:
            keep &= np.bincount(u[rows], minlength=n_u)[u[rows]] >= k
        if items:
            keep &= np.bincount(m[rows], minlength=n_m)[m[rows]] >= k
        if keep.all():
            break
        rows = rows[keep]
        if not (users and items):
            break  # one side only: its counts do not change once the others' rows are gone
    return ratings.take(rows)
