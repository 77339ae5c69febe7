"""Turn a config's data source into ``Ratings`` and a ``Catalog``."""

from __future__ import annotations

from llmrec.data import Catalog, Ratings
from llmrec.experiment.config import MovieLensSource, NetflixSource, SyntheticSource

__all__ = ["load_source"]


def load_source(
    source: SyntheticSource | NetflixSource | MovieLensSource, *, progress: bool = True
) -> tuple[Ratings, Catalog]:
    """Load (or generate, for synthetic sources) the ratings and the titles.

    Synthetic data is generated once into llmrec's cache folder and reused; Netflix files are
    parsed once and then read from the binary cache.
    """
    from llmrec.data import netflix

    if isinstance(source, SyntheticSource):
        from llmrec.data.synthetic import ensure_synthetic

        folder = ensure_synthetic(
            n_users=source.n_users,
            n_movies=source.n_movies,
            n_ratings=source.n_ratings,
            seed=source.seed,
            progress=progress,
        )
        return netflix.load_ratings(folder), netflix.load_titles(folder / "movie_titles.csv")
    if isinstance(source, NetflixSource):
        # load_netflix reports a missing folder as missing (not as missing titles)
        return netflix.load_netflix(source.path, titles=source.titles)
    from llmrec.data.movielens import load_movielens

    return load_movielens(source.path)
