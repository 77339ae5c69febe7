"""Star ratings from numbers: whole stars 1-5, and half stars 0.5-5.0 rounded to whole stars.

:class:`~llmrec.data.Ratings` holds int8 stars 1-5. Sources that store ratings as numbers
(RecBole's ``rating:float``, Amazon's ``overall`` and ``rating``) may use half stars; they
become whole stars the way :mod:`llmrec.data.movielens` rounds them: ``"up"`` (the default,
``ceil``: 0.5→1, 3.5→4, 4.5→5) or ``"down"`` (``floor``, and 0.5→1 since 0 is no star).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

HalfStars = Literal["up", "down"]

__all__ = ["HalfStars", "to_stars"]


def to_stars(
    values: npt.NDArray[np.float64], half_stars: HalfStars = "up"
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """Whole stars for ``values`` and which values were valid (0.5 to 5.0 on the half grid)."""
    if half_stars not in ("up", "down"):
        raise ValueError(f"half_stars must be 'up' or 'down', got {half_stars!r}")
    doubled = np.asarray(values, dtype=np.float64) * 2
    with np.errstate(invalid="ignore"):
        ok = (
            np.isfinite(doubled) & (doubled == np.round(doubled)) & (doubled >= 1) & (doubled <= 10)
        )
    half = np.where(ok, doubled, 2).astype(np.int64)
    stars = (half + 1) // 2 if half_stars == "up" else np.maximum(half // 2, 1)
    return stars.astype(np.int8), ok
