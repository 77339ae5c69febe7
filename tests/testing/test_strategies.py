"""``llmrec.testing.strategies`` draws inputs llmrec's metrics accept, in every form."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from llmrec.metrics import (
    evaluate,
    ndcg_at_k,
    ndcg_at_k_batch,
    precision_at_k,
    precision_at_k_batch,
    reciprocal_rank_batch,
)
from llmrec.testing import strategies as lst


@given(lst.ranking_cases())
def test_ranking_cases_mix_relevant_and_other_ids(case: lst.RankingCase) -> None:
    assert case.k >= 1
    assert all(isinstance(i, int) and i >= 0 for i in case.ranked)
    others = [i for i in case.ranked if i not in case.relevant_set]
    assert all(i >= 12 for i in others)  # ids outside the relevant pool are never relevant


@given(lst.ranking_cases(unique=True))
def test_unique_cases_have_no_repeat(case: lst.RankingCase) -> None:
    assert len(set(case.ranked)) == len(case.ranked)


@given(lst.ranking_cases(graded=True, min_relevant=1))
def test_graded_cases_hold_positive_grades(case: lst.RankingCase) -> None:
    assert isinstance(case.relevant, dict)
    assert all(1 <= g <= 3 for g in case.relevant.values())


@given(lst.batches(min_relevant=1))
def test_every_batch_form_gives_the_single_user_values(batch: lst.Batch) -> None:
    recommendations, truth = batch.recommendations, batch.truth
    if batch.form == "dict":  # the batch functions take aligned rows; evaluate takes dicts
        recommendations, truth = list(recommendations.values()), list(truth.values())
    got = precision_at_k_batch(recommendations, truth, batch.k)
    want = [precision_at_k(r, s, batch.k) for r, s in zip(batch.lists, batch.sets, strict=True)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    rr = reciprocal_rank_batch(batch.lists, batch.sets)
    assert rr.shape == (len(batch.users),)


@settings(max_examples=50)
@given(lst.batches(min_users=1, min_relevant=1))
def test_evaluate_reads_every_batch_form(batch: lst.Batch) -> None:
    report = evaluate(batch.recommendations, batch.truth, [f"ndcg@{batch.k}"], n_bootstrap=0)
    want = ndcg_at_k_batch(batch.lists, batch.sets, batch.k)
    np.testing.assert_allclose(report.values[f"ndcg@{batch.k}"], want, rtol=0, atol=1e-12)
    assert report.users == batch.users
    single = [ndcg_at_k(r, s, batch.k) for r, s in zip(batch.lists, batch.sets, strict=True)]
    np.testing.assert_allclose(want, single, rtol=0, atol=1e-12)


@settings(max_examples=30)
@given(lst.ratings_tables())
def test_ratings_tables_are_valid_ratings(ratings: object) -> None:
    from llmrec.data import Ratings

    assert isinstance(ratings, Ratings)
    assert len(ratings) >= 1
    pairs = set(zip(ratings.user_id.tolist(), ratings.movie_id.tolist(), strict=True))
    assert len(pairs) == len(ratings)
    assert set(ratings.rating.tolist()) <= {1, 2, 3, 4, 5}


@settings(max_examples=30)
@given(lst.profile_datasets(min_examples=1))
def test_profile_datasets_hold_disjoint_profiles_and_gold(dataset: object) -> None:
    from llmrec.truth import ProfileDataset

    assert isinstance(dataset, ProfileDataset)
    for example in dataset:
        assert example.gold and example.profile
        assert not set(example.gold) & set(example.profile)
    assert len(set(dataset.user_ids)) == len(dataset)
