"""Tail metrics: every metric on the relevant movies outside the head, and the head share."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from llmrec.errors import ConfigError
from llmrec.metrics import (
    available_metrics,
    evaluate,
    head_items,
    head_share,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    resolve_metric,
)
from llmrec.testing import strategies as lst

HEAD = {1, 2}
RECS = {"u": [1, 5, 2, 6], "v": [7, 1, 8], "w": [3, 4]}
TRUTH = {"u": {1, 5, 9}, "v": {1, 2}, "w": {3}}


def test_tail_names_resolve_for_every_family_and_alias() -> None:
    for family in available_metrics():
        spec = resolve_metric(f"{family}_tail@5")
        assert spec.tail and spec.family == family and spec.name == f"{family}_tail@5"
    assert resolve_metric("p_tail@3").name == "precision_tail@3"
    assert resolve_metric("mrr_tail").name == "mrr_tail"
    with pytest.raises(ConfigError, match=r"needs a cutoff, e\.g\. 'ndcg_tail@10'"):
        resolve_metric("ndcg_tail")
    with pytest.raises(ConfigError, match="unknown metric 'nope_tail@3'"):
        resolve_metric("nope_tail@3")


def test_a_tail_metric_is_the_metric_on_gold_outside_the_head() -> None:
    report = evaluate(
        RECS, TRUTH, ["precision_tail@2", "recall_tail@4", "ndcg_tail@4"], head=HEAD, n_bootstrap=0
    )
    # u: tail gold {5, 9}; the head movie 1 keeps its slot and is never a hit
    assert report.values["precision_tail@2"][0] == precision_at_k([1, 5], {5, 9}, 2) == 0.5
    assert report.values["recall_tail@4"][0] == recall_at_k([1, 5, 2, 6], {5, 9}, 4) == 0.5
    assert report.values["ndcg_tail@4"][0] == pytest.approx(ndcg_at_k([1, 5, 2, 6], {5, 9}, 4))
    # w: gold {3} is all tail, so tail and plain metrics agree
    assert report.values["precision_tail@2"][2] == 0.5


def test_a_user_whose_gold_is_all_head_scores_zero_and_is_counted() -> None:
    names = ["precision_tail@3", "recall_tail@3", "mrr_tail", "map_tail@3", "hit_tail@3"]
    report = evaluate(RECS, TRUTH, [*names, "precision@3"], head=HEAD, n_bootstrap=0)
    # v's gold {1, 2} is entirely head: 0 on every tail metric, while P@3 counts its hit
    for name in names:
        assert report.values[name][1] == 0.0
    assert report.values["precision@3"][1] == pytest.approx(1 / 3)
    assert report.users == ["u", "v", "w"]  # kept in the mean, so reports pair in compare()
    assert report.options["n_tail_empty"] == 1
    assert report.options["head_size"] == 2


def test_tail_metrics_need_a_head() -> None:
    with pytest.raises(ConfigError, match="need the head: pass head="):
        evaluate(RECS, TRUTH, ["precision_tail@3"], n_bootstrap=0)


def test_the_head_from_a_popularity_table() -> None:
    assert head_items({10: 5, 11: 9, 12: 5, 13: 1}, n_head=2) == {10, 11}  # tie: smaller id
    counts = np.array([0, 50, 40, 3, 40])
    assert head_items(counts, n_head=2) == {1, 2}
    assert head_items(counts, n_head=100) == {0, 1, 2, 3, 4}
    assert head_items([4, 5]) == {4, 5}
    by_count = evaluate(
        RECS, TRUTH, ["p_tail@2"], head={1: 100, 2: 90, 5: 1, 9: 1}, n_head=2, n_bootstrap=0
    )
    by_set = evaluate(RECS, TRUTH, ["p_tail@2"], head=HEAD, n_bootstrap=0)
    np.testing.assert_array_equal(
        by_count.values["precision_tail@2"], by_set.values["precision_tail@2"]
    )
    with pytest.raises(ConfigError, match="head must be a collection"):
        head_items("abc")
    with pytest.raises(ConfigError, match="1-D rating counts"):
        head_items(np.zeros((2, 2)))


def test_head_share_counts_recommended_entries_in_the_head() -> None:
    assert head_share(RECS, HEAD) == 3 / 9
    assert head_share(np.array([[1, 3, -1], [2, 2, 9]]), HEAD) == 3 / 5
    assert np.isnan(head_share([], HEAD))
    report = evaluate(RECS, TRUTH, ["precision@3"], head=HEAD, n_bootstrap=0)
    assert report.head_share == 3 / 9
    assert "share of recommendations in the head: 0.3333" in str(report)
    assert report.to_dict()["head_share"] == 3 / 9
    assert evaluate(RECS, TRUTH, ["precision@3"], n_bootstrap=0).head_share is None


@settings(max_examples=60)
@given(lst.batches(min_users=1, min_relevant=1))
def test_tail_metrics_equal_the_metric_on_filtered_gold_in_every_form(batch: lst.Batch) -> None:
    head = {0, 1, 2, 13}
    names = [f"precision_tail@{batch.k}", f"ndcg_tail@{batch.k}", "mrr_tail"]
    report = evaluate(batch.recommendations, batch.truth, names, head=head, n_bootstrap=0)
    tails = [s - head for s in batch.sets]
    want_p = [
        precision_at_k(r, t, batch.k, empty_relevant="zero")
        for r, t in zip(batch.lists, tails, strict=True)
    ]
    want_n = [
        ndcg_at_k(r, t, batch.k, empty_relevant="zero")
        for r, t in zip(batch.lists, tails, strict=True)
    ]
    np.testing.assert_allclose(report.values[names[0]], want_p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(report.values[names[1]], want_n, rtol=0, atol=1e-12)
    assert report.options["n_tail_empty"] == sum(not t for t in tails)
