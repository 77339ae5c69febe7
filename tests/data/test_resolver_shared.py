"""``TitleResolver.shared``: one index per catalog object and threshold, reused by refits."""

from __future__ import annotations

import gc

import numpy as np

from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.data.resolver import TitleResolver
from llmrec.recommenders.openai import OpenAIRecommender


def _catalog() -> Catalog:
    return Catalog([Movie(1, "Heat", 1995), Movie(2, "The Matrix", 1999), Movie(3, "Up", 2009)])


def test_one_resolver_per_catalog_and_threshold() -> None:
    a, b = _catalog(), _catalog()
    first = TitleResolver.shared(a)
    assert TitleResolver.shared(a) is first
    assert TitleResolver.shared(b) is not first  # an equal but other catalog object
    assert TitleResolver.shared(a, threshold=80) is not first
    fresh = TitleResolver(a)
    queries = ["Matrix, The (1999)", "Heet", "Nothing Like It", "Up"]
    assert first.resolve_many(queries) == fresh.resolve_many(queries)


def test_dropped_when_no_one_holds_it() -> None:
    catalog = _catalog()
    ident = id(TitleResolver.shared(catalog))
    gc.collect()
    again = TitleResolver.shared(catalog)
    assert again.catalog is catalog and isinstance(again, TitleResolver)
    del ident


def test_refits_on_one_catalog_share_the_index(tmp_path) -> None:
    catalog = _catalog()
    ratings = Ratings([1], [1], [5], np.array(["2005-01-01"], "M8[D]"))
    rec = OpenAIRecommender(api_key="x", base_url="http://127.0.0.1:9/v1", cache=tmp_path / "c")
    first = rec.fit(ratings, catalog).resolver_
    assert rec.fit(ratings, catalog).resolver_ is first
    assert rec.fit(ratings, _catalog()).resolver_ is not first
