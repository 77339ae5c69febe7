"""``TruthStats``: what a built ground truth looks like, and how much of it is popularity.

The popularity share is the fraction of all gold items that are among the 100 most-rated movies
of the ratings the truth was built from (their ids are kept in ``meta["top_movies"]``). A high
share means a popularity recommender already scores well against this truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TruthStats", "compute_stats"]


def _summary(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {"min": 0.0, "median": 0.0, "mean": 0.0, "p90": 0.0, "max": 0.0}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "min": float(arr.min()),
        "median": float(np.median(arr)),
        "mean": float(arr.mean()),
        "p90": float(np.percentile(arr, 90)),
        "max": float(arr.max()),
    }


@dataclass(frozen=True)
class TruthStats:
    """Summary of a :class:`~llmrec.truth.ProfileDataset` (see ``ProfileDataset.stats``)."""

    name: str | None
    n_examples: int
    n_targets: int | None
    left_out: dict[str, int]
    gold_sizes: dict[int, int]
    gold_size: dict[str, float]
    n_neighbours: dict[str, float]
    n_gold_movies: int
    popular_share: float | None
    top_k: int = 100

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_examples": self.n_examples,
            "n_targets": self.n_targets,
            "left_out": dict(self.left_out),
            "gold_sizes": {str(k): v for k, v in self.gold_sizes.items()},
            "gold_size": dict(self.gold_size),
            "n_neighbours": dict(self.n_neighbours),
            "n_gold_movies": self.n_gold_movies,
            "popular_share": self.popular_share,
            "top_k": self.top_k,
        }

    def __str__(self) -> str:
        gs, nn = self.gold_size, self.n_neighbours
        left = ", ".join(f"{k} {v:,}" for k, v in sorted(self.left_out.items())) or "none recorded"
        hist = "  ".join(f"{k}: {v:,}" for k, v in sorted(self.gold_sizes.items()))
        share = "unknown" if self.popular_share is None else f"{100 * self.popular_share:.1f} %"
        targets = "unknown" if self.n_targets is None else f"{self.n_targets:,}"
        lines = [
            f"truth          {self.name or '(unnamed)'}",
            f"examples       {self.n_examples:,} of {targets} targets",
            f"left out       {left}",
            f"gold size      median {gs['median']:g}, mean {gs['mean']:.2f}, "
            f"min {gs['min']:g}, max {gs['max']:g}",
            f"gold sizes     {hist}",
            f"neighbours     median {nn['median']:,.0f}, mean {nn['mean']:,.1f}, "
            f"p90 {nn['p90']:,.0f}, min {nn['min']:,.0f}, max {nn['max']:,.0f}",
            f"gold movies    {self.n_gold_movies:,} distinct",
            f"popular share  {share} of gold items are top-{self.top_k} most-rated movies",
        ]
        if nn["max"] == 0:  # holdout truths have no neighbours
            del lines[5]
        return "\n".join(lines)


def compute_stats(
    golds: Sequence[Sequence[int]], n_neighbours: Sequence[int], meta: dict[str, Any]
) -> TruthStats:
    """Statistics from the examples' gold lists, neighbour counts and the dataset's meta."""
    sizes = [len(g) for g in golds]
    hist: dict[int, int] = {}
    for s in sizes:
        hist[s] = hist.get(s, 0) + 1
    top = meta.get("top_movies")
    share: float | None = None
    if isinstance(top, list):
        top_set = {int(m) for m in top}
        total = sum(sizes)
        hits = sum(1 for g in golds for m in g if m in top_set)
        share = hits / total if total else 0.0
    left = meta.get("left_out", {})
    n_targets = meta.get("n_targets")
    return TruthStats(
        name=meta.get("name") or meta.get("protocol"),
        n_examples=len(sizes),
        n_targets=int(n_targets) if isinstance(n_targets, int) else None,
        left_out={str(k): int(v) for k, v in left.items()} if isinstance(left, dict) else {},
        gold_sizes=dict(sorted(hist.items())),
        gold_size=_summary(sizes),
        n_neighbours=_summary(list(n_neighbours)),
        n_gold_movies=len({m for g in golds for m in g}),
        popular_share=share,
        top_k=len(top) if isinstance(top, list) else 100,
    )
