"""Full ranking that leaves out each user's history (``recommend_many(..., exclude=...)``):
classic backends still return k movies, equal to their deeper list without the excluded ones;
a language model is asked for k and loses the excluded movies from its answer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.errors import ConfigError
from llmrec.recommenders import get_recommender
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing.contract import contract_data
from llmrec.testing.server import LocalOpenAIServer

from .test_openai import CATALOG, PROFILES, RATINGS, SECRET, fake_model

RATINGS_C, CATALOG_C, _ = contract_data()
MOVIES = sorted(int(m) for m in CATALOG_C.movie_ids)
MODELS = {
    name: get_recommender(name).fit(RATINGS_C, CATALOG_C)
    for name in ("popularity", "itemknn", "ease")
}


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(MODELS)),
    data=st.data(),
    k=st.integers(1, 8),
)
def test_classic_backends_exclude_and_still_fill_k(name: str, data: st.DataObject, k: int) -> None:
    model = MODELS[name]
    profiles = [
        tuple(data.draw(st.lists(st.sampled_from(MOVIES), min_size=1, max_size=4, unique=True)))
        for _ in range(3)
    ]
    exclude = [
        tuple(data.draw(st.lists(st.sampled_from(MOVIES), max_size=10, unique=True)))
        for _ in range(3)
    ]
    got = model.recommend_many(profiles, k, exclude=exclude)
    deep = model.recommend_many(profiles, len(MOVIES))
    # the backend was asked for k plus the longest exclusion list
    depth = k + max(len(set(e) - set(p)) for e, p in zip(exclude, profiles, strict=True))
    for rec, full, p, e in zip(got, deep, profiles, exclude, strict=True):
        gone = set(e) - set(p)
        expected = [m for m in full.movie_ids if m not in gone][:k]
        assert list(rec.movie_ids) == expected  # the brute-force reference
        assert not gone.intersection(rec.movie_ids)
        assert rec.diagnostics["excluded"] == len(gone.intersection(full.movie_ids[:depth]))
        assert len(rec) == min(k, len(full) - len(gone.intersection(full.movie_ids)))


def test_no_exclusion_changes_nothing_and_bad_lists_are_refused() -> None:
    model = MODELS["itemknn"]
    profiles = [(MOVIES[0], MOVIES[1]), (MOVIES[2],)]
    plain = model.recommend_many(profiles, 5)
    again = model.recommend_many(profiles, 5, exclude=[(), ()])
    assert [r.movie_ids for r in again] == [r.movie_ids for r in plain]
    assert all(r.diagnostics["excluded"] == 0 for r in again)
    with pytest.raises(ConfigError, match="one list per profile"):
        model.recommend_many(profiles, 5, exclude=[()])


def test_a_language_model_is_asked_for_k_and_loses_the_excluded() -> None:
    with LocalOpenAIServer(chat=fake_model) as srv:
        rec = OpenAIRecommender(base_url=srv.base_url, api_key=SECRET, cache_mode="off").fit(
            RATINGS, CATALOG
        )
        plain = rec.recommend_many(PROFILES, k=4)
        exclude = [r.movie_ids[:2] for r in plain]
        got = rec.recommend_many(PROFILES, k=4, exclude=exclude)
        rec.close()
    for before, after, e in zip(plain, got, exclude, strict=True):
        assert after.movie_ids == tuple(m for m in before.movie_ids if m not in e)
        assert after.diagnostics["excluded"] == len(e)
        assert after.raw_text == before.raw_text  # the same question: k=4, not 4 + 2
