"""``TimeSplitTruth``: a global time split; ratings dated on or after ``cutoff`` are held out.

Every user shares the same boundary, so no model (and no neighbour) sees anything from the
future of the held-out period: :meth:`TimeSplitTruth.history` is every rating dated before the
cutoff, of every user (not only the test users' past), and :meth:`TimeSplitTruth.check_fitting`
refuses a fitting set holding any rating on or after it. Fitting on the other users' future
would let a movie that exists only after the cutoff become the most popular one. Users with no
rating after the cutoff have no gold and are not eligible; users who joined after it have no
history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from llmrec.data.ratings import Ratings
from llmrec.errors import LeakageError
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

    def history(
        self, ratings: Ratings, *, users: npt.ArrayLike | None = None, **context: Any
    ) -> Ratings:
        """Every rating dated before the cutoff, of every user (``users`` changes nothing: the
        boundary is global, so no user's future is history)."""
        return ratings.take(~self.held_mask(ratings, **context))

    def check_fitting(
        self,
        fitting: Ratings,
        ratings: Ratings,
        *,
        users: npt.ArrayLike | None = None,
        **context: Any,
    ) -> None:
        """Raise :class:`~llmrec.errors.LeakageError` if ``fitting`` holds a held-out rating of
        ``users`` or any rating, of anyone, dated on or after the cutoff."""
        super().check_fitting(fitting, ratings, users=users, **context)
        late = np.flatnonzero(self.held_mask(fitting, **context))
        if late.size:
            r = int(late[0])
            raise LeakageError(
                f"the fitting set holds a rating dated {fitting.date[r]}, not before the cutoff "
                f"{self._cutoff()} (user {int(fitting.user_id[r])}, movie "
                f"{int(fitting.movie_id[r])}, row {r}): a time split fits on the past only"
            )
