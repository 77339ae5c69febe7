"""``TruthConfig``: every choice that defines the study's neighbour-based ground truth.

The study ("Large Language Models as Recommendation Systems", section on data preparation)
samples 10,000 Netflix users with more than three 5-star ratings, takes each user's top 10
movies (by rating, then date), finds "neighbours" who gave those movies 5 stars, samples 10,000
of them, and calls a movie gold when at least 50 % (profileData50) or 60 % (profileData60) of
the neighbours watched it. Each step is a field here, so a reader can see and change it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["TruthConfig"]


class TruthConfig(BaseModel):
    """Parameters of :class:`~llmrec.truth.NeighbourTruth` (JSON round trip, unknown keys rejected).

    Defaults follow our reading of the study; see ``docs/truth.md`` for the alternatives where
    the paper's text is ambiguous (which profile movies a neighbour must share, date order).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(
        default=None, description="Label stored with the dataset, e.g. 'profileData50'."
    )
    n_users: int | None = Field(
        default=10_000,
        ge=1,
        description="Targets drawn uniformly without replacement from the eligible users; "
        "None takes every eligible user (so does a number above their count).",
    )
    seed: int = Field(
        default=0, ge=0, description="Seed of every random draw (targets, neighbours)."
    )
    min_five_star: int = Field(
        default=4, ge=0, description="Eligible users have at least this many 5-star ratings."
    )
    profile_size: int = Field(
        default=10, ge=1, description="Number of top movies that form a target's profile."
    )
    neighbour_min_rating: int = Field(
        default=5,
        ge=1,
        le=5,
        description="A neighbour rated a profile movie with at least this many stars.",
    )
    min_overlap: int | Literal["all"] = Field(
        default=1,
        description="A neighbour rated at least this many of the profile's movies that well; "
        "'all' means the profile's size (per target).",
    )
    max_neighbours: int | None = Field(
        default=10_000,
        ge=1,
        description="When a target has more neighbours, this many are drawn uniformly without "
        "replacement (seeded per target); None keeps them all.",
    )
    watched_min_rating: int = Field(
        default=1,
        ge=1,
        le=5,
        description="A neighbour 'watched' a movie when rating it with at least this many stars.",
    )
    watch_factor: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Gold movies are watched by at least this fraction of the neighbours "
        "(compared exactly, as the decimal fraction written).",
    )
    exclude: Literal["profile", "history"] = Field(
        default="profile",
        description="Movies never gold for a target: its profile, or everything it rated.",
    )
    max_gold: int = Field(default=10, ge=1, description="Length of the gold list, at most.")

    @field_validator("min_overlap")
    @classmethod
    def _overlap_positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"min_overlap must be at least 1 or 'all', got {value}")
        return value

    def watch_fraction(self) -> Fraction:
        """``watch_factor`` as an exact fraction of its decimal text (0.6 -> 3/5).

        Thresholds compare ``count * denominator >= numerator * n_neighbours`` in integers, so
        3 of 5 neighbours is exactly 60 % and no floating-point rounding moves a movie across.
        """
        return Fraction(repr(self.watch_factor))

    def overlap_for(self, profile_len: int) -> int:
        """The number of profile movies a neighbour must share for a profile of this length."""
        return profile_len if self.min_overlap == "all" else int(self.min_overlap)
