"""``[data]``: where the ratings come from, chosen by ``kind`` (synthetic when left out)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from llmrec.experiment.config._base import ConfigModel, UserPath

__all__ = ["DataSource", "MovieLensSource", "NetflixSource", "SyntheticSource"]


class SyntheticSource(ConfigModel):
    """Synthetic Netflix-format data generated on the spot (and cached)."""

    kind: Literal["synthetic"] = "synthetic"
    n_users: int = Field(20_000, ge=10, description="Number of customers.")
    n_movies: int = Field(2_000, ge=10, description="Number of movies.")
    n_ratings: int = Field(1_000_000, ge=100, description="Number of ratings.")
    seed: int = Field(0, ge=0, description="Seed of the generator.")


class NetflixSource(ConfigModel):
    """The Netflix Prize files: a Kaggle-layout or original-layout folder."""

    kind: Literal["netflix"] = "netflix"
    path: UserPath = Field(description="Folder with combined_data_*.txt or training_set/.")
    titles: UserPath | None = Field(
        None, description="movie_titles.csv; default: the file of that name in `path`."
    )


class MovieLensSource(ConfigModel):
    """A MovieLens folder (ml-100k, ml-1m, ml-latest, ml-25m)."""

    kind: Literal["movielens"] = "movielens"
    path: UserPath


DataSource = Annotated[
    SyntheticSource | NetflixSource | MovieLensSource, Field(discriminator="kind")
]
"""One data source; pydantic picks the class from ``kind``."""
