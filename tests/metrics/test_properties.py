"""Hypothesis properties of every ranking metric, against a brute-force reference kept here."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from llmrec.metrics import (
    average_precision,
    average_precision_batch,
    f1_at_k,
    f1_at_k_batch,
    hit_at_k,
    hit_at_k_batch,
    ndcg_at_k,
    ndcg_at_k_batch,
    precision_at_k,
    precision_at_k_batch,
    recall_at_k,
    recall_at_k_batch,
    reciprocal_rank,
    reciprocal_rank_batch,
)

# ---------------------------------------------------------------- brute-force reference


def ref_hits(ranked: Sequence[Hashable], relevant: set[Hashable], k: int | None) -> list[int]:
    """1-based ranks ≤ k whose item is relevant and not seen at an earlier rank."""
    out = []
    for rank, item in enumerate(ranked, start=1):
        if k is not None and rank > k:
            break
        if item in relevant and item not in ranked[: rank - 1]:
            out.append(rank)
    return out


def reference(name: str, ranked: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    hits = ref_hits(ranked, relevant, k)
    n = len(relevant)
    if name == "precision":
        return len(hits) / k
    if name == "recall":
        return len(hits) / n
    if name == "f1":
        p, r = len(hits) / k, len(hits) / n
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)
    if name == "hit":
        return float(bool(hits))
    if name == "rr":
        return 1 / hits[0] if hits else 0.0
    if name.startswith("ap_"):
        s = sum((i + 1) / rank for i, rank in enumerate(hits))
        norm = {"ap_min": min(n, k), "ap_relevant": n, "ap_hits": len(hits)}[name]
        return s / norm if norm else 0.0
    if name == "ndcg":
        dcg = sum(1 / math.log2(rank + 1) for rank in hits)
        idcg = sum(1 / math.log2(rank + 1) for rank in range(1, min(n, k) + 1))
        return dcg / idcg
    raise AssertionError(name)


SINGLE: dict[str, Callable[..., float]] = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "f1": f1_at_k,
    "hit": hit_at_k,
    "rr": reciprocal_rank,
    "ap_min": lambda r, t, k: average_precision(r, t, k, normalization="min"),
    "ap_relevant": lambda r, t, k: average_precision(r, t, k, normalization="relevant"),
    "ap_hits": lambda r, t, k: average_precision(r, t, k, normalization="hits"),
    "ndcg": ndcg_at_k,
}
BATCH: dict[str, Callable[..., Any]] = {
    "precision": precision_at_k_batch,
    "recall": recall_at_k_batch,
    "f1": f1_at_k_batch,
    "hit": hit_at_k_batch,
    "rr": reciprocal_rank_batch,
    "ap_min": lambda r, t, k: average_precision_batch(r, t, k, normalization="min"),
    "ap_relevant": lambda r, t, k: average_precision_batch(r, t, k, normalization="relevant"),
    "ap_hits": lambda r, t, k: average_precision_batch(r, t, k, normalization="hits"),
    "ndcg": ndcg_at_k_batch,
}
NAMES = sorted(SINGLE)

# ---------------------------------------------------------------- strategies

items = st.integers(min_value=0, max_value=14)
ranked_lists = st.lists(items, max_size=16)
distinct_lists = st.lists(items, max_size=15, unique=True)
relevant_sets = st.sets(items, min_size=1, max_size=10)
ks = st.integers(min_value=1, max_value=18)


@pytest.mark.parametrize("name", NAMES)
@given(ranked=ranked_lists, relevant=relevant_sets, k=ks)
def test_matches_reference_and_stays_in_unit_interval(
    name: str, ranked: list[int], relevant: set[int], k: int
) -> None:
    value = SINGLE[name](ranked, relevant, k)
    assert value == pytest.approx(reference(name, ranked, relevant, k), abs=1e-12)
    assert 0.0 <= value <= 1.0


@given(ranked=ranked_lists, relevant=relevant_sets)
def test_reciprocal_rank_without_cutoff_uses_the_whole_list(
    ranked: list[int], relevant: set[int]
) -> None:
    expected = reference("rr", ranked, relevant, max(len(ranked), 1))
    assert reciprocal_rank(ranked, relevant) == pytest.approx(expected)


@given(relevant=relevant_sets, others=distinct_lists, k=ks)
def test_a_perfect_ranking_scores_one_where_the_metric_allows_it(
    relevant: set[int], others: list[int], k: int
) -> None:
    ranked = sorted(relevant) + [x for x in others if x not in relevant]
    n = len(relevant)
    assert ndcg_at_k(ranked, relevant, k) == pytest.approx(1.0)
    assert reciprocal_rank(ranked, relevant, k) == 1.0
    assert hit_at_k(ranked, relevant, k) == 1.0
    assert average_precision(ranked, relevant, k) == pytest.approx(1.0)
    assert average_precision(ranked, relevant, k, normalization="hits") == pytest.approx(1.0)
    if n >= k:  # enough relevant items to fill the top K
        assert precision_at_k(ranked, relevant, k) == 1.0
    if n <= k:  # every relevant item fits in the top K
        assert recall_at_k(ranked, relevant, k) == 1.0
        assert average_precision(ranked, relevant, k, normalization="relevant") == pytest.approx(1)
    if n == k:
        assert f1_at_k(ranked, relevant, k) == pytest.approx(1.0)


@given(ranked=ranked_lists, relevant=relevant_sets, k=ks)
def test_hits_equal_precision_times_k_and_recall_times_relevant(
    ranked: list[int], relevant: set[int], k: int
) -> None:
    hits = len(ref_hits(ranked, relevant, k))
    assert precision_at_k(ranked, relevant, k) * k == pytest.approx(hits)
    assert recall_at_k(ranked, relevant, k) * len(relevant) == pytest.approx(hits)


@pytest.mark.parametrize("name", NAMES)
@given(ranked=ranked_lists, tail=ranked_lists, relevant=relevant_sets, k=ks)
def test_items_ranked_below_k_change_nothing(
    name: str, ranked: list[int], tail: list[int], relevant: set[int], k: int
) -> None:
    # a top K of exactly K entries (filled with ids that are never relevant), then anything
    head = ranked[:k] + list(range(100, 100 + k - len(ranked[:k])))
    assert SINGLE[name](head + tail, relevant, k) == SINGLE[name](head, relevant, k)


@given(ranked=distinct_lists, relevant=relevant_sets, k=ks, data=st.data())
def test_moving_a_relevant_item_up_never_lowers_rr_ap_ndcg(
    ranked: list[int], relevant: set[int], k: int, data: st.DataObject
) -> None:
    rel_pos = [i for i, x in enumerate(ranked) if x in relevant]
    assume(rel_pos)
    i = data.draw(st.sampled_from(rel_pos))
    j = data.draw(st.integers(min_value=0, max_value=i))
    moved = list(ranked)
    moved.insert(j, moved.pop(i))
    for f in (
        reciprocal_rank,
        ndcg_at_k,
        average_precision,
        lambda r, t, kk: average_precision(r, t, kk, normalization="relevant"),
    ):
        assert f(moved, relevant, k) >= f(ranked, relevant, k) - 1e-12


@pytest.mark.parametrize("name", NAMES)
@given(ranked=ranked_lists, relevant=relevant_sets, k=ks, seed=st.integers(0, 2**32 - 1))
def test_relabelling_item_ids_changes_nothing(
    name: str, ranked: list[int], relevant: set[int], k: int, seed: int
) -> None:
    perm = np.random.default_rng(seed).permutation(15)
    as_str = {i: f"movie-{perm[i]}" for i in range(15)}
    value = SINGLE[name](ranked, relevant, k)
    assert SINGLE[name]([as_str[x] for x in ranked], {as_str[x] for x in relevant}, k) == value
    assert SINGLE[name]([int(perm[x]) for x in ranked], {int(perm[x]) for x in relevant}, k) == (
        value
    )


@given(relevant=relevant_sets, extra=distinct_lists, k=ks, data=st.data())
def test_ap_normalisations_agree_when_every_relevant_item_is_a_hit(
    relevant: set[int], extra: list[int], k: int, data: st.DataObject
) -> None:
    assume(len(relevant) <= k)
    others = [x for x in extra if x not in relevant]
    ranked = data.draw(st.permutations(sorted(relevant) + others[: k - len(relevant)]))
    values = {
        norm: average_precision(ranked, relevant, k, normalization=norm)
        for norm in ("min", "relevant", "hits")
    }
    assert values["min"] == pytest.approx(values["relevant"])
    assert values["min"] == pytest.approx(values["hits"])


def _padded(lists: Sequence[Sequence[int]], width: int) -> np.ndarray[Any, Any]:
    out = np.full((len(lists), width), -1, dtype=np.int64)
    for i, row in enumerate(lists):
        out[i, : len(row)] = row
    return out


users = st.lists(st.tuples(ranked_lists, st.sets(items, max_size=10)), min_size=1, max_size=12)


@pytest.mark.parametrize("name", NAMES)
@given(rows=users, k=ks)
def test_batch_equals_single_user_functions(
    name: str, rows: list[tuple[list[int], set[int]]], k: int
) -> None:
    ranked = [r for r, _ in rows]
    relevant = [t for _, t in rows]
    expected = [SINGLE[name](r, t, k) if t else math.nan for r, t in rows]
    ragged = BATCH[name](ranked, relevant, k)
    ragged_str = BATCH[name](
        [[f"i{x}" for x in r] for r in ranked], [{f"i{x}" for x in t} for t in relevant], k
    )
    padded = BATCH[name](_padded(ranked, 17), _padded([sorted(t) for t in relevant], 11), k)
    np.testing.assert_allclose(ragged, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ragged_str, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(padded, expected, rtol=0, atol=1e-12)
