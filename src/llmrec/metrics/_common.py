"""Shared input checks and the single-user hit list every metric reads.

Conventions (see ``docs/metrics.md``):

* A ranked list keeps its positions. An item repeated in the list counts once, at its first
  position; a later repeat occupies its slot but is never a hit.
* In a numpy integer array, negative entries are padding (``-1`` by convention): they occupy
  their slot and are never a hit. In Python lists every hashable value, ``-1`` included, is an id.
* ``empty_relevant`` decides what a user with no relevant item gets: ``"skip"`` returns ``nan``
  (so ``evaluate`` can leave the user out and count them), ``"zero"`` returns 0, ``"raise"``
  raises :class:`~llmrec.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError

__all__ = [
    "EmptyRelevant",
    "Ranked",
    "Relevant",
    "check_empty_relevant",
    "check_k",
    "check_optional_k",
    "empty_value",
    "hit_list",
]

Ranked: TypeAlias = Sequence[Hashable] | npt.NDArray[np.integer[Any]]
Relevant: TypeAlias = Collection[Hashable] | npt.NDArray[np.integer[Any]]
EmptyRelevant: TypeAlias = Literal["skip", "zero", "raise"]

_EMPTY_CHOICES = ("skip", "zero", "raise")
_EMPTY_NAMES: dict[str, EmptyRelevant] = {"skip": "skip", "zero": "zero", "raise": "raise"}


def check_k(k: object, name: str = "k") -> int:
    """Return ``k`` as an ``int`` if it is a positive integer, else raise ConfigError."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or int(k) < 1:
        raise ConfigError(f"{name} must be a positive integer (got {k!r})")
    return int(k)


def check_optional_k(k: object, name: str = "k") -> int | None:
    """Return ``None`` for ``None`` (no cut-off), else ``k`` checked by :func:`check_k`."""
    return None if k is None else check_k(k, name)


def check_empty_relevant(value: object) -> EmptyRelevant:
    """Validate the ``empty_relevant`` policy name."""
    if isinstance(value, str) and value in _EMPTY_NAMES:
        return _EMPTY_NAMES[value]
    raise ConfigError(f"empty_relevant must be one of {_EMPTY_CHOICES} (got {value!r})")


def empty_value(policy: EmptyRelevant) -> float:
    """The score of a user whose relevant set is empty, under ``policy``."""
    if policy == "raise":
        raise ConfigError(
            "the relevant set is empty, so the metric is undefined; pass "
            "empty_relevant='skip' (nan) or 'zero' (0.0) to score such users"
        )
    return float("nan") if policy == "skip" else 0.0


def _items(values: Iterable[Hashable] | npt.NDArray[Any]) -> list[Hashable]:
    """Python list of ids; integer numpy arrays drop nothing here (padding handled by caller)."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ConfigError(f"expected a 1-D array of item ids (got shape {values.shape})")
        out: list[Hashable] = values.tolist()
        return out
    if isinstance(values, str | bytes):
        raise ConfigError(f"expected a sequence of item ids, not a string (got {values!r})")
    return list(values)


def _is_int_array(values: object) -> bool:
    return isinstance(values, np.ndarray) and values.dtype.kind in "iu"


def hit_list(ranked: Ranked, relevant: Relevant, k: int | None) -> tuple[list[bool], int]:
    """Per-position hit flags of the top ``k`` (all when ``None``) and the number of relevant ids.

    A position is a hit when its item is relevant and did not appear earlier in the list.
    Padding (negative entries of integer arrays) is never a hit and never relevant.
    """
    ranked_items = _items(ranked)
    relevant_items = _items(relevant)
    pad_ranked = _is_int_array(ranked)
    pad_relevant = _is_int_array(relevant)
    rel = {r for r in relevant_items if not (pad_relevant and r < 0)}  # type: ignore[operator]
    top = ranked_items if k is None else ranked_items[:k]
    seen: set[Hashable] = set()
    flags: list[bool] = []
    for item in top:
        if pad_ranked and item < 0:  # type: ignore[operator]
            flags.append(False)
            continue
        flags.append(item in rel and item not in seen)
        seen.add(item)
    return flags, len(rel)
