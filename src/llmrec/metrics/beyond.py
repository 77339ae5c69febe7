"""Beyond accuracy: coverage, popularity, novelty, and the failure rates of language-model output.

Every function states its numerator and denominator. ``recommendations`` is a sequence of
ranked lists (one per user) of hashable item ids; each list is deduplicated (first occurrence
kept) before coverage, popularity and novelty are computed, so a repeated item is not counted
twice. Empty denominators give 0.0.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from llmrec.errors import ConfigError

__all__ = [
    "catalog_coverage",
    "duplicate_rate",
    "hallucination_rate",
    "invalid_output_rate",
    "mean_popularity",
    "novelty",
    "relative_popularity",
]


def _lists(recommendations: Iterable[Any], name: str = "recommendations") -> list[list[Hashable]]:
    if isinstance(recommendations, str | bytes | Mapping):
        raise ConfigError(f"{name} must be a sequence of ranked lists (one per user)")
    out = []
    for i, row in enumerate(recommendations):
        if isinstance(row, str | bytes):
            raise ConfigError(f"{name}[{i}] is a string; expected a list of item ids")
        if isinstance(row, np.ndarray):
            row = row[row >= 0] if row.dtype.kind in "iu" else row
            out.append(row.tolist())
        else:
            out.append(list(row))
    return out


def _distinct(row: Sequence[Hashable]) -> list[Hashable]:
    return list(dict.fromkeys(row))


def catalog_coverage(
    recommendations: Iterable[Sequence[Hashable]], catalog: int | Collection[Hashable]
) -> float:
    """Share of the catalog recommended to at least one user.

    ``|{distinct items recommended}| / catalog size``. With ``catalog`` a collection of ids,
    recommended items outside it (e.g. hallucinated titles) are not counted; with an int, every
    distinct recommended id counts. Source: Ge, Delgado-Battenfeld & Jannach, "Beyond accuracy",
    RecSys 2010 (catalog coverage).
    """
    recommended: set[Hashable] = set()
    for row in _lists(recommendations):
        recommended.update(row)
    if isinstance(catalog, bool):
        raise ConfigError(f"catalog must be a size or a collection of ids (got {catalog!r})")
    if isinstance(catalog, int | np.integer):
        size = int(catalog)
        if size < 0:
            raise ConfigError(f"catalog size must be >= 0 (got {size})")
        if len(recommended) > size:
            raise ConfigError(
                f"{len(recommended)} distinct items were recommended but the catalog size is "
                f"{size}; pass the catalog ids to leave out items outside it"
            )
        n = len(recommended)
    else:
        ids = set(catalog)
        size = len(ids)
        n = len(recommended & ids)
    return n / size if size else 0.0


def _pop(popularity: Mapping[Hashable, float] | Sequence[float] | Any, item: Hashable) -> float:
    if isinstance(popularity, Mapping):
        return float(popularity.get(item, 0.0))
    if isinstance(item, int | np.integer) and 0 <= int(item) < len(popularity):
        return float(popularity[int(item)])
    return 0.0


def mean_popularity(
    recommendations: Iterable[Sequence[Hashable]],
    popularity: Mapping[Hashable, float] | Sequence[float] | Any,
) -> float:
    """Mean popularity of the recommended items.

    ``Σ popularity(item) / number of (user, distinct item) pairs`` over all lists. ``popularity``
    maps an item to a number (e.g. its count of ratings), as a mapping or an array indexed by
    integer id; items it does not know count as 0. Source: Abdollahpouri et al., "Managing
    popularity bias in recommender systems with personalized re-ranking", FLAIRS 2019 (ARP).
    """
    total = 0.0
    count = 0
    for row in _lists(recommendations):
        for item in _distinct(row):
            total += _pop(popularity, item)
            count += 1
    return total / count if count else 0.0


def relative_popularity(
    recommendations: Iterable[Sequence[Hashable]],
    gold: Iterable[Sequence[Hashable]],
    popularity: Mapping[Hashable, float] | Sequence[float] | Any,
) -> float:
    """``mean_popularity(recommendations) / mean_popularity(gold)``: above 1 means the
    recommender favours more popular items than the truth does (0.0 when the gold's is 0)."""
    ref = mean_popularity(gold, popularity)
    return mean_popularity(recommendations, popularity) / ref if ref else 0.0


def novelty(
    recommendations: Iterable[Sequence[Hashable]],
    interactions: Mapping[Hashable, int] | Sequence[int] | Any,
    n_users: int,
) -> float:
    """Mean self-information of the recommended items, in bits.

    ``mean over (user, distinct item) pairs of −log2(p_i)``, with ``p_i = interactions[i] /
    n_users`` the share of users who interacted with item ``i``. Items with no interaction
    (``p_i = 0``, e.g. hallucinated ids) have unbounded self-information and are left out of the
    mean. Source: Zhou et al., "Solving the apparent diversity–accuracy dilemma", PNAS 2010.
    """
    if isinstance(n_users, bool) or not isinstance(n_users, int | np.integer) or n_users < 1:
        raise ConfigError(f"n_users must be a positive integer (got {n_users!r})")
    total = 0.0
    count = 0
    for row in _lists(recommendations):
        for item in _distinct(row):
            c = _pop(interactions, item)
            if c <= 0:
                continue
            if c > n_users:
                raise ConfigError(
                    f"item {item!r} has {c:g} interacting users but n_users is {n_users}"
                )
            total -= math.log2(c / n_users)
            count += 1
    return total / count if count else 0.0


def _total(value: int | Iterable[int], name: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a count or a sequence of counts (got {value!r})")
    total = int(value) if isinstance(value, int | np.integer) else sum(int(v) for v in value)
    if total < 0:
        raise ConfigError(f"{name} must not be negative (got {total})")
    return total


def hallucination_rate(unresolved: int | Iterable[int], titles: int | Iterable[int]) -> float:
    """Share of recommended titles that match no catalog item.

    ``Σ unresolved titles / Σ titles``, over all responses that could be parsed (pass totals or
    per-response counts). Titles of unparseable responses belong to
    :func:`invalid_output_rate`, not here.
    """
    u = _total(unresolved, "unresolved")
    t = _total(titles, "titles")
    if u > t:
        raise ConfigError(f"unresolved titles ({u}) exceed titles ({t})")
    return u / t if t else 0.0


def invalid_output_rate(valid: Iterable[bool]) -> float:
    """Share of responses that could not be parsed: ``#(not valid) / #responses``."""
    flags = [bool(v) for v in valid]
    return sum(1 for v in flags if not v) / len(flags) if flags else 0.0


def duplicate_rate(recommendations: Iterable[Sequence[Hashable]]) -> float:
    """Share of list entries that repeat an earlier entry of the same list.

    ``Σ (len(list) − distinct(list)) / Σ len(list)``: ``[a, b, a]`` has one duplicate in three
    entries. Padding (negative values of integer arrays) is not an entry.
    """
    dup = 0
    total = 0
    for row in _lists(recommendations):
        total += len(row)
        dup += len(row) - len(set(row))
    return dup / total if total else 0.0
