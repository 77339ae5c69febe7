"""``TimeSplitTruth``: a global time split; ratings dated on or after ``cutoff`` are held out.

Every user shares the same boundary, so no model (and no neighbour) sees anything from the
future of the held-out period. Users with no rating after the cutoff have no gold and are not
eligible; users who joined after it have no history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from llmrec.data.ratings import Ratings
from llmrec.truth.holdout import HoldoutConfig, HoldoutTruth

__all__ = ["TimeSplitConfig", "TimeSplitTruth"]


class TimeSplitConfig(HoldoutConfig):
    """Parameters of :class:`TimeSplitTruth` (``cutoff`` as a date or an ISO string)."""

    protocol: Literal["time_split"] = Field(
        default="time_split", description="Names the split rule."
    )
    cutoff: dt.date = Field(description="Ratings dated on or after this day are held out.")


class TimeSplitTruth(HoldoutTruth):
    """Gold = the relevant movies each user rated on or after ``cutoff``."""

    config_class: ClassVar[type[HoldoutConfig]] = TimeSplitConfig
    protocol: ClassVar[str] = "time_split"

    def _cutoff(self) -> np.datetime64:
        if not isinstance(self.config, TimeSplitConfig):  # pragma: no cover - set by __init__
            raise TypeError("TimeSplitTruth needs a TimeSplitConfig")
        return np.datetime64(self.config.cutoff.isoformat(), "D")

    def held_mask(self, ratings: Ratings, **context: Any) -> npt.NDArray[np.bool_]:
        if context:
            raise TypeError(f"unexpected arguments: {sorted(context)}")
        return np.asarray(ratings.date >= self._cutoff())

    def _not_after(self) -> np.datetime64:
        return self._cutoff()
