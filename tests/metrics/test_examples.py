"""Worked examples a reader can check by hand, one per convention and edge case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmrec.errors import ConfigError
from llmrec.metrics import (
    average_precision,
    f1_at_k,
    hit_at_k,
    hit_at_k_batch,
    ndcg_at_k,
    ndcg_at_k_batch,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)

# ranked: a b c d e ; relevant: {b, d, z}  → hits at ranks 2 and 4
RANKED = ["a", "b", "c", "d", "e"]
RELEVANT = {"b", "d", "z"}


def test_precision_examples() -> None:
    assert precision_at_k(RANKED, RELEVANT, 1) == 0.0
    assert precision_at_k(RANKED, RELEVANT, 2) == 0.5  # b
    assert precision_at_k(RANKED, RELEVANT, 4) == 0.5  # b, d
    assert precision_at_k(RANKED, RELEVANT, 5) == 2 / 5


def test_precision_divides_by_k_when_the_list_is_shorter() -> None:
    # two items, both relevant, K = 5: 2 hits / 5, not 2 / 2
    assert precision_at_k(["b", "d"], RELEVANT, 5) == 0.4


def test_recall_examples() -> None:
    assert recall_at_k(RANKED, RELEVANT, 2) == 1 / 3
    assert recall_at_k(RANKED, RELEVANT, 5) == 2 / 3
    # more relevant items than K: the best possible recall is K / |relevant|
    assert recall_at_k(["b"], RELEVANT, 1) == 1 / 3


def test_f1_examples() -> None:
    # K = 4: P = 2/4, R = 2/3 → F1 = 2·(1/2)(2/3)/(1/2 + 2/3) = 4/7
    assert f1_at_k(RANKED, RELEVANT, 4) == pytest.approx(4 / 7)
    assert f1_at_k(RANKED, RELEVANT, 1) == 0.0  # P = R = 0 → 0, not nan


def test_f1_mean_is_mean_of_per_user_values() -> None:
    from llmrec.metrics import evaluate

    recs = {"u1": ["a"], "u2": ["x", "y"]}
    truth = {"u1": {"a"}, "u2": {"y", "q", "r", "s"}}
    report = evaluate(recs, truth, ["f1@2", "precision@2", "recall@2"], n_bootstrap=0)
    # u1: P = 1/2, R = 1 → F1 = 2/3 ; u2: P = 1/2, R = 1/4 → F1 = 1/3
    assert report.means["f1@2"] == pytest.approx(0.5)
    p, r = report.means["precision@2"], report.means["recall@2"]
    assert 2 * p * r / (p + r) != pytest.approx(0.5)  # F1 of the means would be 0.5454...


def test_hit_examples() -> None:
    assert hit_at_k(RANKED, RELEVANT, 1) == 0.0
    assert hit_at_k(RANKED, RELEVANT, 2) == 1.0


def test_reciprocal_rank_examples() -> None:
    assert reciprocal_rank(RANKED, RELEVANT) == 0.5
    assert reciprocal_rank(RANKED, {"e"}) == 0.2
    assert reciprocal_rank(RANKED, {"e"}, k=4) == 0.0  # first relevant item is past the cutoff
    assert reciprocal_rank(RANKED, {"e"}, k=5) == 0.2
    assert reciprocal_rank(RANKED, {"q"}) == 0.0


def test_average_precision_examples() -> None:
    # K = 5: precision at the hit ranks is 1/2 (rank 2) and 2/4 (rank 4); sum = 1
    assert average_precision(RANKED, RELEVANT, 5) == pytest.approx(1 / 3)  # min(3, 5) = 3
    assert average_precision(RANKED, RELEVANT, 5, normalization="relevant") == pytest.approx(1 / 3)
    assert average_precision(RANKED, RELEVANT, 5, normalization="hits") == pytest.approx(1 / 2)


def test_average_precision_min_normalisation_uses_k_when_relevant_is_larger() -> None:
    # K = 2: one hit at rank 2 → sum = 1/2 ; min(|relevant| = 3, K = 2) = 2 → 1/4
    assert average_precision(RANKED, RELEVANT, 2) == pytest.approx(1 / 4)
    assert average_precision(RANKED, RELEVANT, 2, normalization="relevant") == pytest.approx(1 / 6)
    assert average_precision(RANKED, RELEVANT, 2, normalization="hits") == pytest.approx(1 / 2)
    assert average_precision(["x"], RELEVANT, 2, normalization="hits") == 0.0


def test_ndcg_examples() -> None:
    # hits at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal = 3 hits at ranks 1..3
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(dcg / idcg)
    # K = 2: the ideal list has min(3, 2) = 2 hits
    assert ndcg_at_k(RANKED, RELEVANT, 2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )
    assert ndcg_at_k(["b", "d", "z"], RELEVANT, 3) == pytest.approx(1.0)


def test_duplicates_count_once_at_their_first_position() -> None:
    ranked = ["b", "b", "d"]
    # the repeat of b keeps its slot (rank 2) and is not a hit; d is a hit at rank 3
    assert precision_at_k(ranked, RELEVANT, 3) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, RELEVANT, 3) == pytest.approx(2 / 3)
    assert average_precision(ranked, RELEVANT, 3, normalization="hits") == pytest.approx(
        (1 / 1 + 2 / 3) / 2
    )
    assert ndcg_at_k(["b", "b"], {"b"}, 2) == 1.0
    assert precision_at_k(["b", "b"], {"b"}, 2) == 0.5


def test_empty_ranked_list_scores_zero() -> None:
    for f in (precision_at_k, recall_at_k, f1_at_k, hit_at_k, ndcg_at_k, average_precision):
        assert f([], RELEVANT, 3) == 0.0
    assert reciprocal_rank([], RELEVANT) == 0.0


def test_empty_relevant_set_follows_the_policy() -> None:
    for f in (precision_at_k, recall_at_k, f1_at_k, hit_at_k, ndcg_at_k, average_precision):
        assert math.isnan(f(RANKED, set(), 3))
        assert f(RANKED, set(), 3, empty_relevant="zero") == 0.0
        with pytest.raises(ConfigError, match="empty"):
            f(RANKED, set(), 3, empty_relevant="raise")
    assert math.isnan(reciprocal_rank(RANKED, []))
    with pytest.raises(ConfigError, match="empty_relevant must be one of"):
        precision_at_k(RANKED, RELEVANT, 3, empty_relevant="ignore")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", None])
def test_bad_k_is_rejected(bad: object) -> None:
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        precision_at_k(RANKED, RELEVANT, bad)  # type: ignore[arg-type]


def test_numpy_arrays_treat_negative_ids_as_padding() -> None:
    ranked = np.array([3, -1, 5, -1])
    relevant = np.array([5, -1, -1])
    assert precision_at_k(ranked, relevant, 4) == 0.25
    assert recall_at_k(ranked, relevant, 4) == 1.0
    assert reciprocal_rank(ranked, relevant) == 1 / 3  # padding keeps its slot
    # in a Python list, -1 is an ordinary id
    assert precision_at_k([-1, 2], [-1], 2) == 0.5


def test_ids_of_any_hashable_type() -> None:
    ranked = [(1, "x"), 2.5, frozenset({1})]
    assert recall_at_k(ranked, [frozenset({1}), 2.5], 3) == 1.0


def test_strings_are_not_taken_for_lists() -> None:
    with pytest.raises(ConfigError, match="not a string"):
        precision_at_k("abc", {"a"}, 2)


def test_closed_form_random_ranking_of_20_with_one_relevant_item() -> None:
    # The relevant item is equally likely at each of the 20 ranks: E[NDCG@10] is the mean of
    # 1/log2(r + 1) over r = 1..10 (0 beyond), divided by 20; E[Hit@5] = 5/20.
    candidates = list(range(20))
    ndcg, hit = [], []
    for position in range(20):
        ranked = [*candidates[:position], 99, *candidates[position:19]]
        ndcg.append(ndcg_at_k(ranked, {99}, 10))
        hit.append(hit_at_k(ranked, {99}, 5))
    expected = sum(1 / math.log2(r + 1) for r in range(1, 11)) / 20
    assert np.mean(ndcg) == pytest.approx(expected)
    assert round(float(np.mean(ndcg)), 3) == 0.227
    assert np.mean(hit) == 0.25


def test_closed_form_holds_for_batch_functions_on_random_permutations() -> None:
    rng = np.random.default_rng(7)
    n = 50_000
    ranked = rng.permuted(np.tile(np.arange(20), (n, 1)), axis=1)
    relevant = np.zeros((n, 1), dtype=np.int64)  # item 0 is the relevant one
    ndcg = ndcg_at_k_batch(ranked, relevant, 10).mean()
    hit = hit_at_k_batch(ranked, relevant, 5).mean()
    # standard errors are about 0.0014 and 0.0019; 5 of them is a generous bound
    assert abs(ndcg - 0.2271) < 0.008
    assert abs(hit - 0.25) < 0.01
