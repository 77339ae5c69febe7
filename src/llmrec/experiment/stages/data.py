"""The data stage: the config's source as ratings and a catalogue, with the key later stages
derive theirs from and the statistics the report opens with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmrec.experiment.context import LoadedData
from llmrec.experiment.data_source import load_source
from llmrec.experiment.store import stage_key

if TYPE_CHECKING:
    from llmrec.experiment.context import RunContext

__all__ = ["LoadedData", "load_data"]


def load_data(ctx: RunContext) -> LoadedData:
    """Load (or generate) the source's ratings and titles."""
    ratings, catalog = load_source(ctx.config.data, progress=ctx.progress)
    key = stage_key(ctx.config.data.model_dump(mode="json"), ratings.fingerprint())
    stats = ratings.stats().to_dict()
    stats["n_titles"] = len(catalog)
    return LoadedData(ratings, catalog, key, stats)
