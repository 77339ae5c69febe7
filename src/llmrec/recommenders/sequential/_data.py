"""Users' time-ordered histories as integer sequences, and the batches a sequential model reads.

Items are numbered ``1..n`` by their column in the popularity index
(:func:`~llmrec.recommenders._matrix.item_index`: most rated first, then movie id), so equal
scores rank by popularity, then movie id, as in the other backends; ``0`` is padding.

Training examples are RecBole's (``SequentialDataset.data_augmentation``): every position ``j``
of a history after the first is a target, read from the up to ``max_length`` items before it.
A batch of prefixes is **left-aligned** (items at positions ``0..len-1``, padding after), the
layout RecBole's SASRec and GRU4Rec read, and the model's output at position ``len - 1`` is the
prediction. Everything here is numpy; torch sees only the finished batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from llmrec.protocols._order import user_runs_in_time_order

if TYPE_CHECKING:
    from llmrec.data.ratings import Ratings
    from llmrec.recommenders._matrix import ItemIndex

__all__ = ["Examples", "Histories", "histories", "left_aligned", "profile_batch"]

_I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Histories:
    """Every user's history in time order as item numbers (``1..n``), one flat array.

    ``items[starts[u] : starts[u] + lengths[u]]`` is user ``u``'s history, oldest first
    (``user_ids[u]``, ascending); ratings of the same second keep their order in the table.
    """

    items: _I64
    starts: _I64
    lengths: _I64
    user_ids: _I64

    def split_last(self) -> tuple[Histories, Examples]:
        """Each user's last item held out (users with at least two items): the histories
        without it, and one example per such user whose target is that item."""
        held = self.lengths >= 2
        keep = np.ones(self.items.size, dtype=bool)
        last = self.starts + self.lengths - 1
        keep[last[held]] = False
        lengths = self.lengths - held.astype(np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        train = Histories(self.items[keep], starts, lengths, self.user_ids)
        examples = Examples(self.items, last[held], self.starts[held])
        return train, examples

    def training_examples(self) -> Examples:
        """Every position after each user's first as a target (module docstring)."""
        n_targets = np.maximum(self.lengths - 1, 0)
        first = np.repeat(self.starts + 1, n_targets)
        offset = np.arange(int(n_targets.sum()), dtype=np.int64) - np.repeat(
            np.cumsum(n_targets) - n_targets, n_targets
        )
        return Examples(self.items, first + offset, np.repeat(self.starts, n_targets))


@dataclass(frozen=True)
class Examples:
    """Next-item examples over a flat item array: ``items[targets[i]]`` is the target of
    example ``i``, read from the items in ``[begins[i], targets[i])`` (its user's history so
    far), of which a model sees the last ``max_length``."""

    items: _I64
    targets: _I64
    begins: _I64

    def __len__(self) -> int:
        return int(self.targets.size)

    def batch(self, rows: _I64, max_length: int) -> tuple[_I64, _I64, _I64]:
        """The prefixes of examples ``rows`` (left-aligned, :func:`left_aligned`), their lengths
        and their target items."""
        ends = self.targets[rows]
        lengths = np.minimum(ends - self.begins[rows], max_length)
        seqs = left_aligned(self.items, ends - lengths, lengths, max_length)
        return seqs, lengths, self.items[ends]


def histories(ratings: Ratings, index: ItemIndex) -> Histories:
    """The users' time-ordered histories (time to the second, ties in file order) over the
    items of ``index``; ratings of movies outside it are left out."""
    order, starts, lengths = user_runs_in_time_order(ratings, users_by="id")
    users = np.asarray(ratings.user_id, dtype=np.int64)[order[starts]]
    cols = index.columns(np.asarray(ratings.movie_id)[order])
    known = cols >= 0
    owner = np.repeat(np.arange(starts.size, dtype=np.int64), lengths)[known]
    kept = np.bincount(owner, minlength=starts.size).astype(np.int64)
    begin = np.concatenate(([0], np.cumsum(kept)[:-1])).astype(np.int64)
    return Histories(cols[known] + 1, begin, kept, users)


def left_aligned(items: _I64, starts: _I64, lengths: _I64, width: int) -> _I64:
    """Rows ``items[starts[r] : starts[r] + lengths[r]]`` at positions ``0..lengths[r]-1`` of a
    ``len(starts) × width`` matrix padded with 0 (``lengths <= width``)."""
    pos = np.arange(width, dtype=np.int64)
    inside = pos[np.newaxis, :] < lengths[:, np.newaxis]
    where = np.where(inside, starts[:, np.newaxis] + pos[np.newaxis, :], 0)
    if items.size == 0:
        return np.zeros(where.shape, dtype=np.int64)
    return np.where(inside, items[where], 0)


def profile_batch(
    profiles: list[tuple[int, ...]], index: ItemIndex, max_length: int
) -> tuple[_I64, _I64]:
    """Profiles (movie ids, oldest first) as left-aligned item sequences of their last
    ``max_length`` known movies, and the sequence lengths; unknown movies are skipped."""
    lengths = np.fromiter((len(p) for p in profiles), dtype=np.int64, count=len(profiles))
    flat = np.fromiter((m for p in profiles for m in p), dtype=np.int64, count=int(lengths.sum()))
    cols = index.columns(flat)
    known = cols >= 0
    owner = np.repeat(np.arange(len(profiles), dtype=np.int64), lengths)[known]
    kept = np.bincount(owner, minlength=len(profiles)).astype(np.int64)
    ends = np.cumsum(kept).astype(np.int64)
    used = np.minimum(kept, max_length)
    items = cols[known] + 1
    return left_aligned(items, ends - used, used, max_length), used
