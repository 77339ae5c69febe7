"""``ProbeTruth``: the Netflix Prize probe set as held-out ratings.

``probe.txt`` lists 1,408,395 (movie, customer) pairs drawn from each customer's most recent
ratings; their ratings and dates are inside the training files. Holding them out gives, for each
user, gold that is what the user actually rated next (see :mod:`llmrec.truth.holdout` for the
shared rule). A probe pair without a rating in the table is an error naming it.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from llmrec.data.netflix import ProbeSet
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError, DataFormatError
from llmrec.truth._holdout_kernel import PairSet, chunks
from llmrec.truth.holdout import HoldoutConfig, HoldoutTruth

__all__ = ["ProbeConfig", "ProbeTruth", "probe_mask"]


class ProbeConfig(HoldoutConfig):
    """Parameters of :class:`ProbeTruth` (the probe pairs themselves are data, not config)."""

    protocol: Literal["probe"] = Field(default="probe", description="Names the split rule.")


def _pair_keys(users: npt.ArrayLike, movies: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return (np.asarray(users, dtype=np.int64) << 32) | (
        np.asarray(movies, dtype=np.int64) & 0xFFFFFFFF
    )


def probe_fingerprint(probe: ProbeSet) -> str:
    """SHA-256 over the probe's movie and user columns (file order)."""
    h = hashlib.sha256()
    for arr in (probe.movie_id, probe.user_id):
        h.update(np.ascontiguousarray(arr, dtype=np.int32).tobytes())
    return h.hexdigest()


def probe_mask(ratings: Ratings, probe: ProbeSet) -> npt.NDArray[np.bool_]:
    """Whether each rating's (user, movie) pair is in ``probe``.

    Raises :class:`DataFormatError` for a pair listed twice or a pair with no rating.
    """
    pairs = PairSet(probe.user_id, probe.movie_id)
    same = np.diff(pairs.keys) == 0
    if same.any():
        i = int(pairs.order[np.flatnonzero(same)[0] + 1])
        raise DataFormatError(
            f"probe pair movie {int(probe.movie_id[i])}, customer {int(probe.user_id[i])} is "
            f"listed twice (entry {i + 1})"
        )
    held = np.zeros(len(ratings), dtype=bool)
    found = np.zeros(len(probe), dtype=bool)
    for a, b in chunks(len(ratings)):
        at = pairs.find(ratings.user_id[a:b], ratings.movie_id[a:b])
        hit = at >= 0
        held[a:b] = hit
        found[at[hit]] = True
    if not found.all():
        i = int(np.flatnonzero(~found)[0])
        raise DataFormatError(
            f"probe pair movie {int(probe.movie_id[i])}, customer {int(probe.user_id[i])} "
            f"(entry {i + 1}) has no rating in the rating files; the probe set must come with "
            "the training data it was drawn from"
        )
    return held


class ProbeTruth(HoldoutTruth):
    """Gold = each user's probe ratings of at least ``relevant_min_rating`` stars.

    ``ProbeTruth(probe=load_probe(folder)).build(ratings)``, or pass ``probe=`` to
    :meth:`build`, :meth:`history` and :meth:`held_out` per call.
    """

    config_class: ClassVar[type[HoldoutConfig]] = ProbeConfig
    protocol: ClassVar[str] = "probe"

    def __init__(
        self, config: ProbeConfig | None = None, *, probe: ProbeSet | None = None, **fields: Any
    ) -> None:
        super().__init__(config, **fields)
        self.probe = probe

    def _probe(self, probe: ProbeSet | None) -> ProbeSet:
        found = probe if probe is not None else self.probe
        if found is None:
            raise ConfigError(
                "ProbeTruth needs the probe set: ProbeTruth(probe=llmrec.data.load_probe(folder)) "
                "or pass probe=... to build/history/held_out"
            )
        return found

    def held_mask(
        self, ratings: Ratings, *, probe: ProbeSet | None = None, **context: Any
    ) -> npt.NDArray[np.bool_]:
        if context:
            raise TypeError(f"unexpected arguments: {sorted(context)}")
        return probe_mask(ratings, self._probe(probe))

    def _meta_extra(
        self, ratings: Ratings, *, probe: ProbeSet | None = None, **context: Any
    ) -> dict[str, Any]:
        found = self._probe(probe)
        return {"probe": {"n_pairs": len(found), "fingerprint": probe_fingerprint(found)}}
