"""Turn a config's data source into ``Ratings`` and a ``Catalog``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from llmrec.data import Catalog, Ratings
from llmrec.experiment.config import (
    AmazonSource,
    LlmrecSource,
    MovieLensSource,
    NetflixSource,
    RecBoleSource,
    SyntheticSource,
)

if TYPE_CHECKING:
    from pathlib import Path

    from llmrec.experiment.config import DataSource

__all__ = ["load_source", "synthetic_folder"]


def synthetic_folder(source: SyntheticSource, *, progress: bool = False) -> Path:
    """The folder of a synthetic source's files (generated once into llmrec's cache)."""
    from llmrec.data.synthetic import ensure_synthetic

    return ensure_synthetic(
        n_users=source.n_users,
        n_movies=source.n_movies,
        n_ratings=source.n_ratings,
        seed=source.seed,
        progress=progress,
    )


def load_source(source: DataSource, *, progress: bool = True) -> tuple[Ratings, Catalog]:
    """Load (or generate, for synthetic sources) the ratings and the titles.

    Synthetic data is generated once into llmrec's cache folder and reused; Netflix files are
    parsed once and then read from the binary cache. RecBole, Amazon and llmrec folders are read
    by :func:`llmrec.data.convert.read_source`, then cut to their ``kcore`` when one is set.
    """
    from llmrec.data import netflix

    if isinstance(source, SyntheticSource):
        folder = synthetic_folder(source, progress=progress)
        return netflix.load_ratings(folder), netflix.load_titles(folder / "movie_titles.csv")
    if isinstance(source, NetflixSource):
        # load_netflix reports a missing folder as missing (not as missing titles)
        return netflix.load_netflix(source.path, titles=source.titles)
    if isinstance(source, MovieLensSource):
        from llmrec.data.movielens import load_movielens

        return load_movielens(source.path)
    return _peer_source(source, progress=progress)


def _peer_source(
    source: RecBoleSource | AmazonSource | LlmrecSource, *, progress: bool
) -> tuple[Ratings, Catalog]:
    from llmrec.data import kcore
    from llmrec.data.convert import read_source

    if isinstance(source, RecBoleSource):
        loaded = read_source(
            source.path,
            "recbole",
            dataset=source.dataset,
            implicit_rating=source.implicit_rating,
            progress=progress,
        )
    elif isinstance(source, AmazonSource):
        loaded = read_source(source.path, "amazon", meta=source.meta, progress=progress)
    else:
        loaded = read_source(source.path, "llmrec", progress=progress)
    ratings, catalog = loaded.ratings, loaded.catalog
    if source.kcore is None:
        return ratings, catalog
    ratings = kcore(ratings, source.kcore)
    keep = set(np.unique(ratings.movie_id).tolist())
    catalog = Catalog(
        (m for m in catalog if m.movie_id in keep),
        encoding=catalog.encoding,
        source_ids=catalog.source_ids,
    )
    return ratings, catalog
