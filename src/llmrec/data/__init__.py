"""Rating data: the ``Ratings`` table, the ``Catalog`` of titles, and loaders and generators."""

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings, RatingsStats

__all__ = ["Catalog", "Movie", "Ratings", "RatingsStats"]
