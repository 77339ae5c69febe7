"""``LoadedData``: what a peer-format loader read, with the counts of what it changed on the way.

Loaders of other projects' formats (RecBole atomic files, Amazon reviews) sometimes have to
decide something about a row: a repeated review is dropped for the latest one, an item without
a title keeps its id as its label. Nothing is dropped silently: every such decision is counted
here, logged, and printed by ``llmrec data convert``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec.data.catalog import Catalog
from llmrec.data.ratings import Ratings

__all__ = ["LoadedData"]


@dataclass(frozen=True)
class LoadedData:
    """Ratings and catalog read from ``source``, and ``counts`` of what the loader decided.

    Unpacks like the ``(ratings, catalog)`` pair the ``load_*`` functions return.
    """

    ratings: Ratings
    catalog: Catalog
    source: Path
    counts: dict[str, int] = field(default_factory=dict)
    """E.g. ``lines``, ``duplicates_dropped``, ``untitled_items``: see each loader."""

    def __iter__(self) -> Iterator[Any]:
        """``ratings, catalog = loaded`` (typed ``Any`` so the pair unpacks under strict mypy)."""
        yield self.ratings
        yield self.catalog

    def summary(self) -> str:
        """One line per count, for people: ``"duplicates_dropped  12"``."""
        width = max((len(k) for k in self.counts), default=0)
        return "\n".join(f"{k:<{width}}  {v:,}" for k, v in self.counts.items())
