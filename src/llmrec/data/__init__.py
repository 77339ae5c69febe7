"""Rating data: the ``Ratings`` table, the ``Catalog`` of titles, loaders and generators.

The Netflix Prize loader (``netflix``), the MovieLens readers (``movielens``), RecBole's atomic
files (``recbole``), Amazon reviews (``amazon``) and the synthetic Netflix-format generator
(``synthetic``) all return the same ``Ratings`` and ``Catalog``; ``kcore`` filters a table.
``TitleResolver`` maps titles written by a model back to catalog ids.
"""

from typing import TYPE_CHECKING, Any

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings, RatingsStats
from llmrec.data.resolver import Resolution, TitleResolver, normalize_title
from llmrec.data.source_ids import SourceIds

if TYPE_CHECKING:
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
    from llmrec.data.synthetic import (
        DEFAULT_SYNTHETIC,
        SyntheticConfig,
        ensure_synthetic,
        write_netflix,
    )

# The loaders are imported on first use, so that a module needing only ``Ratings`` or
# ``Catalog`` (a prompt template, the local-model engine) does not load every file parser.
_LAZY = {
    "kcore": "llmrec.data.kcore",
    "LoadedData": "llmrec.data.loaded",
    "load_movielens": "llmrec.data.movielens",
    "ProbeSet": "llmrec.data.netflix",
    "QualifyingSet": "llmrec.data.netflix",
    "load_probe": "llmrec.data.netflix",
    "load_qualifying": "llmrec.data.netflix",
    "load_ratings": "llmrec.data.netflix",
    "load_titles": "llmrec.data.netflix",
    "DEFAULT_SYNTHETIC": "llmrec.data.synthetic",
    "SyntheticConfig": "llmrec.data.synthetic",
    "ensure_synthetic": "llmrec.data.synthetic",
    "write_netflix": "llmrec.data.synthetic",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmrec.data' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
