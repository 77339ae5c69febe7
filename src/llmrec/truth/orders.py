"""Presentation orders for position-bias control: each candidate set shown in R seeded orders.

A language model ranking a list tends to favour what it reads first (LLMRank, Hou et al., ECIR
2024, "Large Language Models are Zero-Shot Rankers for Recommender Systems", §4.2).
:func:`presentation_orders` returns ``repeats`` versions of a
:class:`~llmrec.truth.CandidateSets` with the same candidates and positives: repeat 0 is the
stored order, repeat ``r >= 1`` sorts each user's candidates by a SplitMix64 hash of
``(seed, r, user, movie)``. So a user's orders depend only on the seed, the user id and the
set itself (not its stored order, nor which other users are in the file): same seed, same
bytes. Ranking every repeat and comparing (:func:`llmrec.metrics.summarize_repeats`) gives the
mean and spread of a metric over orders and the top-1 flip rate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from llmrec.errors import ConfigError

if TYPE_CHECKING:
    from llmrec.truth.candidates import CandidateSets

__all__ = ["presentation_orders"]

_SALT_REPEAT = 0x726570656174  # "repeat"


def presentation_orders(sets: CandidateSets, repeats: int, seed: int = 0) -> list[CandidateSets]:
    """``repeats`` copies of ``sets`` in seeded presentation orders (repeat 0: as stored).

    Each copy's ``meta`` records ``repeat``, ``repeats``, ``order_seed`` and the fingerprint of
    the original (``source_fingerprint``).
    """
    from llmrec.truth.candidates import CandidateSets, _hash

    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be a positive integer, got {repeats!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    source = sets.fingerprint()
    users = sets.user_ids
    positives = {u: sets.positives(u) for u in users}
    out = []
    for r in range(repeats):
        meta = {
            **sets.meta,
            "repeat": r,
            "repeats": repeats,
            "order_seed": seed,
            "source_fingerprint": source,
        }
        if r == 0:
            out.append(CandidateSets({u: sets[u] for u in users}, positives, meta))
            continue
        shuffled: dict[int, tuple[int, ...]] = {}
        for u in users:
            movies = np.asarray(sets[u], dtype=np.int64)
            salt = _SALT_REPEAT ^ (r << 48)
            keys = _hash(seed, salt, np.full(movies.shape, u, dtype=np.int64), movies)
            order = np.lexsort((movies, keys))
            shuffled[u] = tuple(int(m) for m in movies[order])
        out.append(CandidateSets(shuffled, positives, meta))
    return out
