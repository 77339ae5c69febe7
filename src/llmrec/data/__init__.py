"""Rating data: the ``Ratings`` table, the ``Catalog`` of titles, loaders and generators.

The Netflix Prize loader (``netflix``), the MovieLens readers (``movielens``), RecBole's atomic
files (``recbole``), Amazon reviews (``amazon``) and the synthetic Netflix-format generator
(``synthetic``) all return the same ``Ratings`` and ``Catalog``; ``kcore`` filters a table.
``TitleResolver`` maps titles written by a model back to catalog ids.
"""

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.kcore import kcore
from llmrec.data.loaded import LoadedData
from llmrec.data.movielens import load_movielens
from llmrec.data.netflix import (
    ProbeSet,
    QualifyingSet,
    load_probe,
    load_qualifying,
    load_ratings,
    load_titles,
)
from llmrec.data.ratings import Ratings, RatingsStats
from llmrec.data.resolver import Resolution, TitleResolver, normalize_title
from llmrec.data.source_ids import SourceIds
from llmrec.data.synthetic import (
    DEFAULT_SYNTHETIC,
    SyntheticConfig,
    ensure_synthetic,
    write_netflix,
)

__all__ = [
    "DEFAULT_SYNTHETIC",
    "Catalog",
    "LoadedData",
    "Movie",
    "ProbeSet",
    "QualifyingSet",
    "Ratings",
    "RatingsStats",
    "Resolution",
    "SourceIds",
    "SyntheticConfig",
    "TitleResolver",
    "ensure_synthetic",
    "kcore",
    "load_movielens",
    "load_probe",
    "load_qualifying",
    "load_ratings",
    "load_titles",
    "normalize_title",
    "write_netflix",
]
