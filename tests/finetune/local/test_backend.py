"""The ``transformers`` backend: the loop learns through it, constrained decoding stays in the
catalog, a cached rerun generates nothing, and it passes the conformance suite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmrec.data.ratings import Ratings
from llmrec.metrics.beyond import hallucination_rate
from llmrec.recommenders import get_recommender
from llmrec.recommenders.capabilities import LanguageModelBackend
from llmrec.recommenders.llm.transports.base import CATALOG_CONSTRAINED
from llmrec.recommenders.transformers_backend import TransformersRecommender
from llmrec.testing.contract import RecommenderContract, contract_data

from .conftest import TEMPLATE


def _ratings(dataset) -> Ratings:
    users = [e.user_id for e in dataset for _ in e.profile]
    movies = [m for e in dataset for m in e.profile]
    return Ratings(users, movies, [5] * len(movies), np.full(len(movies), "2005-01-01", "M8[D]"))


def _precision_at_5(recs, dataset) -> float:
    hits = sum(len(set(r.movie_ids) & set(e.gold)) for r, e in zip(recs, dataset, strict=True))
    return hits / (5 * len(dataset))


def _hallucinated(recs) -> float:
    return hallucination_rate(
        [r.diagnostics["n_unresolved"] for r in recs], [r.diagnostics["n_titles"] for r in recs]
    )


def _backend(model: Path, cache: Path, **options) -> TransformersRecommender:
    settings = {"device": "cpu", "batch_size": 16, "max_new_tokens": 80, "template": TEMPLATE}
    rec = get_recommender("transformers", model=str(model), cache=cache, **{**settings, **options})
    assert isinstance(rec, TransformersRecommender)
    return rec


def test_the_loop_learns_through_the_backend_and_a_rerun_generates_nothing(
    trained_full, tiny_folder, tiny_data, tmp_path: Path
) -> None:
    catalog, dataset = tiny_data
    out, _ = trained_full
    ratings = _ratings(dataset)
    profiles = dataset.profiles
    cache = tmp_path / "cache.sqlite"

    trained = _backend(out, cache).fit(ratings, catalog)
    recs = trained.recommend_many(profiles, k=5)
    assert _precision_at_5(recs, dataset) >= 0.9
    assert _hallucinated(recs) <= 0.05
    assert all(r.cached is False and r.cost_usd == 0.0 for r in recs)
    assert all(r.raw_text and r.usage["completion_tokens"] > 0 for r in recs)
    assert all(r.diagnostics["constrained"] is False for r in recs)

    untrained = _backend(tiny_folder, cache).fit(ratings, catalog)
    assert _precision_at_5(untrained.recommend_many(profiles, k=5), dataset) <= 0.1

    # Same weights and settings from a fresh recommender: every answer from the cache, and the
    # model is not even loaded (the cache key is the folder's content hash).
    again = _backend(out, cache).fit(ratings, catalog)
    replay = again.recommend_many(profiles, k=5)
    assert [r.movie_ids for r in replay] == [r.movie_ids for r in recs]
    assert all(r.cached for r in replay)
    assert again.transport()._local is None  # type: ignore[attr-defined]
    # Another generation setting is another key: it generates.
    longer = _backend(out, cache, max_new_tokens=81).fit(ratings, catalog)
    assert not any(r.cached for r in longer.recommend_many(profiles[:2], k=5))


def test_constrained_decoding_on_random_weights_stays_in_the_catalog(
    tiny_folder, tiny_data, tmp_path: Path
) -> None:
    catalog, dataset = tiny_data
    users = dataset[:12]
    rec = _backend(tiny_folder, tmp_path / "c.sqlite", constrained=True, max_new_tokens=120)
    assert CATALOG_CONSTRAINED in rec.fit(_ratings(users), catalog).transport().capabilities
    recs = rec.recommend_many(users.profiles, k=5)
    known = set(catalog.movie_ids.tolist())
    for example, r in zip(users, recs, strict=True):
        assert len(r.movie_ids) == 5
        assert set(r.movie_ids) <= known
        assert len(set(r.movie_ids)) == len(r.movie_ids)
        assert not set(r.movie_ids) & set(example.profile)
        assert r.diagnostics["constrained"] is True
        assert "contract_removed" not in r.diagnostics
    assert _hallucinated(recs) == 0.0
    # Unconstrained, the same random weights write no catalog title at all.
    free = _backend(tiny_folder, tmp_path / "c.sqlite", max_new_tokens=40).fit(
        _ratings(users), catalog
    )
    assert all(r.movie_ids == () for r in free.recommend_many(users.profiles[:3], k=5))


def test_capability_protocol_local_is_free_and_needs_no_credentials(tiny_folder, tiny_data) -> None:
    catalog, dataset = tiny_data
    rec = get_recommender("transformers", model=str(tiny_folder), template=TEMPLATE)
    assert isinstance(rec, LanguageModelBackend)
    assert rec.credentials().present and rec.credentials().names == ()
    est = rec.estimate_cost(dataset.profiles[:4], 5, catalog)
    assert est.usd == 0.0 and est.requests == 4
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(str(tiny_folder))
    texts = [
        tok.apply_chat_template(
            TEMPLATE.messages(p, catalog, k=5), tokenize=False, add_generation_prompt=True
        )
        for p in dataset.profiles[:4]
    ]
    exact = sum(len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"])
    assert est.input_tokens == exact
    assert 4 * 5 * 3 <= est.output_tokens <= 4 * 256
    moved = rec.with_model("elsewhere")
    assert moved.model_id == "elsewhere" and moved.config.template == TEMPLATE
    fine = get_recommender("transformers", fine_tuned=True)
    assert fine.uses_fine_tuned_model is True and rec.uses_fine_tuned_model is False


def test_bad_settings_are_clear_errors(tiny_folder) -> None:
    from llmrec.errors import ConfigError
    from llmrec.prompts import PromptTemplate

    with pytest.raises(ConfigError, match="model is required"):
        get_recommender("transformers")
    with pytest.raises(ConfigError, match="numbered"):
        get_recommender(
            "transformers",
            model=str(tiny_folder),
            constrained=True,
            template=PromptTemplate(output_format="json"),
        )


# -- the conformance suite, on a tiny model built for the suite's catalog ------------------------
@pytest.fixture(scope="session")
def contract_model(private_dir: Path) -> Path:
    from llmrec.testing.tiny_model import build_tiny_model

    _, catalog, _ = contract_data()
    return build_tiny_model(private_dir / "contract-tiny", catalog)


class TestTransformersContract(RecommenderContract):
    """Constrained decoding with random weights: lists are never empty. The cache is off, so
    batch invariance and determinism are checked on fresh generations."""

    @pytest.fixture(autouse=True)
    def _model(self, contract_model: Path) -> None:
        self.folder = contract_model

    def make_recommender(self) -> TransformersRecommender:
        return TransformersRecommender(
            model=str(self.folder),
            device="cpu",
            batch_size=4,
            max_new_tokens=48,
            constrained=True,
            cache_mode="off",
        )
