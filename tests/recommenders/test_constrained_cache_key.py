"""Constrained answers are keyed on the catalog and the exclusions (issue: a run on catalogue B
was served catalogue A's constrained answers from the cache, every title unresolved)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="local models need the [train] extra")
pytest.importorskip("transformers", reason="local models need the [train] extra")

from llmrec.data.catalog import Catalog
from llmrec.data.ratings import Ratings
from llmrec.prompts import PromptTemplate
from llmrec.recommenders import get_recommender
from llmrec.recommenders.transformers_backend import TransformersRecommender
from llmrec.truth.dataset import ProfileDataset

TEMPLATE = PromptTemplate(n_recommendations=5)


@pytest.fixture(scope="module")
def tiny() -> Iterator[tuple[Path, Catalog, ProfileDataset]]:
    from llmrec.testing.tiny_model import build_tiny_model, tiny_dataset

    folder = Path(tempfile.mkdtemp(prefix="llmrec-constrained-key-"))
    catalog, dataset = tiny_dataset(8, 60, profile_len=4, gold_len=2, seed=3)
    model = build_tiny_model(folder / "tiny", catalog, template=TEMPLATE)
    yield model, catalog, dataset
    shutil.rmtree(folder, ignore_errors=True)


def _backend(model: Path, cache: Path) -> TransformersRecommender:
    rec = get_recommender(
        "transformers",
        model=str(model),
        cache=cache,
        device="cpu",
        batch_size=8,
        max_new_tokens=120,
        template=TEMPLATE,
        constrained=True,
    )
    assert isinstance(rec, TransformersRecommender)
    return rec


def _ratings(dataset: ProfileDataset) -> Ratings:
    users = [e.user_id for e in dataset for _ in e.profile]
    movies = [m for e in dataset for m in e.profile]
    return Ratings(users, movies, [5] * len(movies), np.full(len(movies), "2005-01-01", "M8[D]"))


def test_another_catalog_is_not_served_the_first_catalogs_constrained_answers(
    tiny, tmp_path: Path
) -> None:
    model, catalog_a, dataset = tiny
    users = dataset[:4]
    cache = tmp_path / "cache.sqlite"
    first = _backend(model, cache).fit(_ratings(users), catalog_a)
    recs_a = first.recommend_many(users.profiles, k=5)
    assert all(len(r.movie_ids) == 5 and r.cached is False for r in recs_a)
    # Catalogue B: the same profile movies (so the same prompts), without the other movies
    # the answers on A named; A's answers are wrong on B.
    in_profiles = {m for e in users for m in e.profile}
    named = {m for r in recs_a for m in r.movie_ids} - in_profiles
    assert named
    catalog_b = Catalog(m for m in catalog_a if m.movie_id not in named)
    second = _backend(model, cache).fit(_ratings(users), catalog_b)
    recs_b = second.recommend_many(users.profiles, k=5)
    assert all(r.cached is False for r in recs_b)  # generated again, not replayed
    for r in recs_b:
        assert r.diagnostics["n_unresolved"] == 0
        assert len(r.movie_ids) == 5 and not set(r.movie_ids) & named
    # the same catalogue again is served from the cache
    again = (
        _backend(model, cache).fit(_ratings(users), catalog_b).recommend_many(users.profiles, k=5)
    )
    assert [r.movie_ids for r in again] == [r.movie_ids for r in recs_b]
    assert all(r.cached for r in again)


def test_the_key_names_the_catalog_and_the_exclusions(tiny, tmp_path: Path) -> None:
    model, catalog, dataset = tiny
    rec = _backend(model, tmp_path / "c.sqlite").fit(_ratings(dataset), catalog)
    profile = dataset[0].profile
    (request,) = rec.plan([profile], k=5)
    depends = request.body["answer_depends_on"]
    assert depends["exclude"] == sorted(profile)
    assert len(depends["catalog"]) == 64
    smaller = Catalog(m for m in catalog if m.movie_id != max(catalog.movie_ids.tolist()))
    other = _backend(model, tmp_path / "c.sqlite").fit(_ratings(dataset), smaller)
    assert max(catalog.movie_ids.tolist()) not in profile
    (moved,) = other.plan([profile], k=5)
    assert moved.messages == request.messages and moved.key != request.key
