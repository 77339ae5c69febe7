"""Run a vectorised kernel over many users and apply the empty-relevant policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError
from llmrec.metrics._common import EmptyRelevant, check_empty_relevant
from llmrec.metrics._hits import BatchInput, HitMatrix, build_hit_matrix

__all__ = ["FloatArray", "Kernel", "apply_empty", "as_float", "run_batch"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
Kernel: TypeAlias = Callable[[HitMatrix, "int | None"], FloatArray]


def as_float(values: object) -> FloatArray:
    """``values`` as a float64 array (a typed wrapper for numpy calls that return ``Any``)."""
    return np.asarray(values, dtype=np.float64)


def apply_empty(values: FloatArray, n_relevant: npt.NDArray[np.int64], policy: str) -> FloatArray:
    """Set the score of users without relevant ids: ``nan`` (skip), ``0.0`` (zero) or raise."""
    policy = check_empty_relevant(policy)
    empty = n_relevant == 0
    if not empty.any():
        return values
    if policy == "raise":
        first = int(np.flatnonzero(empty)[0])
        raise ConfigError(
            f"user at position {first} has an empty relevant set ({int(empty.sum())} users "
            "in all); pass empty_relevant='skip' (nan) or 'zero' (0.0) to score them"
        )
    out = values.copy()
    out[empty] = np.nan if policy == "skip" else 0.0
    return out


def run_batch(
    kernel: Kernel,
    ranked: BatchInput,
    relevant: BatchInput,
    k: int | None,
    empty_relevant: EmptyRelevant,
) -> FloatArray:
    """Build the hit matrix at width ``k`` (all ranks when ``None``) and apply ``kernel``."""
    check_empty_relevant(empty_relevant)
    hm = build_hit_matrix(ranked, relevant, k)
    return apply_empty(kernel(hm, k), hm.n_relevant, empty_relevant)
