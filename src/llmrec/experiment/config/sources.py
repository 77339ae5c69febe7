"""``[data]``: where the ratings come from, chosen by ``kind`` (synthetic when left out).

Besides the study's Netflix files, MovieLens and synthetic data, a run reads the files of the
peers' toolkits: a folder of RecBole atomic files (``kind = "recbole"``), an Amazon reviews file
(``kind = "amazon"``, 2018 or 2023 release) and a folder written by ``llmrec data convert``
(``kind = "llmrec"``). Those three take ``kcore``: the ratings filtered to their k-core
(:func:`llmrec.data.kcore`) before any truth is built, as OpenP5 and LLaRA do.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from llmrec.experiment.config._base import ConfigModel, UserPath

__all__ = [
    "AmazonSource",
    "DataSource",
    "LlmrecSource",
    "MovieLensSource",
    "NetflixSource",
    "RecBoleSource",
    "SyntheticSource",
]


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


_KCORE = Field(
    None,
    ge=1,
    description="Keep the k-core of the ratings (every user and item with at least k ratings, "
    "iterated to the fixed point) before any truth is built; None: every rating.",
)


class RecBoleSource(ConfigModel):
    """A folder of RecBole atomic files: ``NAME.inter`` (+ ``NAME.item``, ``NAME.user``)."""

    kind: Literal["recbole"] = "recbole"
    path: UserPath = Field(description="The folder holding NAME.inter.")
    dataset: str | None = Field(
        None, description="NAME; default: the folder's name, or its one .inter file."
    )
    implicit_rating: int | None = Field(
        None,
        ge=1,
        le=5,
        description="The rating given to every interaction of implicit data (no rating "
        "column); required for such data, never assumed.",
    )
    kcore: int | None = _KCORE


class AmazonSource(ConfigModel):
    """An Amazon reviews file (2018 or 2023 release; JSON lines, gzipped or not)."""

    kind: Literal["amazon"] = "amazon"
    path: UserPath = Field(description="The reviews file, e.g. Movies_and_TV.jsonl.gz.")
    meta: UserPath | None = Field(
        None,
        description="The category's metadata file (titles); without it an item's title "
        "is its ASIN.",
    )
    kcore: int | None = _KCORE


class LlmrecSource(ConfigModel):
    """A folder written by ``llmrec data convert`` (or ``save_llmrec``)."""

    kind: Literal["llmrec"] = "llmrec"
    path: UserPath = Field(description="The folder holding meta.json and catalog.jsonl.")
    kcore: int | None = _KCORE


DataSource = Annotated[
    SyntheticSource | NetflixSource | MovieLensSource | RecBoleSource | AmazonSource | LlmrecSource,
    Field(discriminator="kind"),
]
"""One data source; pydantic picks the class from ``kind``."""

#: Sources without the Netflix probe set (a probe truth on them is an error).
NO_PROBE_SOURCES = (MovieLensSource, RecBoleSource, AmazonSource, LlmrecSource)

#: How messages name each source kind.
SOURCE_NAMES = {
    "synthetic": "synthetic",
    "netflix": "Netflix",
    "movielens": "MovieLens",
    "recbole": "RecBole",
    "amazon": "Amazon",
    "llmrec": "llmrec",
}
