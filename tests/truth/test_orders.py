"""CandidateSets.orders: seeded presentation orders for position-bias control."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.errors import ConfigError
from llmrec.truth import CandidateSets


@st.composite
def candidate_sets(draw: st.DrawFn) -> CandidateSets:
    users = draw(st.lists(st.integers(1, 10_000), min_size=1, max_size=6, unique=True))
    cands, pos = {}, {}
    for u in users:
        movies = draw(st.lists(st.integers(1, 500), min_size=0, max_size=25, unique=True))
        cands[u] = tuple(movies)
        pos[u] = tuple(movies[: draw(st.integers(0, min(3, len(movies))))])
    return CandidateSets(cands, pos, {"n_candidates": 25})


@settings(max_examples=60, deadline=None)
@given(sets=candidate_sets(), repeats=st.integers(1, 5), seed=st.integers(0, 2**40))
def test_orders_are_seeded_permutations(sets: CandidateSets, repeats: int, seed: int) -> None:
    orders = sets.orders(repeats, seed)
    assert len(orders) == repeats
    assert orders[0] == sets and [orders[0][u] for u in sets] == [sets[u] for u in sets]
    for r, order in enumerate(orders):
        assert order.user_ids == sets.user_ids
        assert order.meta["repeat"] == r and order.meta["order_seed"] == seed
        assert order.meta["source_fingerprint"] == sets.fingerprint()
        for u in sets:
            assert sorted(order[u]) == sorted(sets[u])
            assert order.positives(u) == sets.positives(u)
    # same seed, same orders; a user's orders do not depend on the other users or the stored order
    again = sets.orders(repeats, seed)
    assert [o.fingerprint() for o in again] == [o.fingerprint() for o in orders]
    u = sets.user_ids[0]
    alone = CandidateSets({u: tuple(reversed(sets[u]))}, {u: sets.positives(u)})
    for r in range(1, repeats):
        assert alone.orders(repeats, seed)[r][u] == orders[r][u]


def test_repeats_differ_from_each_other() -> None:
    sets = CandidateSets({7: tuple(range(100, 120))}, {7: (100,)})
    orders = sets.orders(4, seed=3)
    assert len({o[7] for o in orders}) == 4
    assert sets.orders(4, seed=4)[1][7] != orders[1][7]


def test_saved_orders_reload(tmp_path: Path) -> None:
    sets = CandidateSets({1: (3, 2, 1), 2: (9, 8)}, {1: (2,), 2: ()})
    second = sets.orders(2, seed=1)[1]
    path = second.save(tmp_path / "r1.jsonl")
    assert CandidateSets.load(path) == second


@pytest.mark.parametrize(("repeats", "seed"), [(0, 0), (-1, 0), (True, 0), (2, -1), (2, 1.5)])
def test_bad_arguments(repeats: object, seed: object) -> None:
    sets = CandidateSets({1: (3, 2, 1)}, {1: (2,)})
    with pytest.raises(ConfigError):
        sets.orders(repeats, seed)  # type: ignore[arg-type]
