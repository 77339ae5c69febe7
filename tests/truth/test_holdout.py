"""Holdout truths (probe, last-N, time split) against a plain per-user Python reference."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data.netflix import ProbeSet
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError, DataFormatError
from llmrec.truth import (
    HoldoutTruth,
    LastNConfig,
    LastNTruth,
    ProbeTruth,
    TimeSplitTruth,
)

Row = tuple[int, int, int, int]  # user, movie, stars, day offset
DAY0 = np.datetime64("2003-01-01", "D")


# -- reference ------------------------------------------------------------------------------
def reference(
    rows: list[Row],
    held_of_user: Callable[[int, list[Row]], set[int]],
    *,
    n_users: int | None = None,
    seed: int = 0,
    relevant: int = 4,
    profile_size: int = 10,
    min_five: int = 4,
    max_gold: int = 10,
) -> list[tuple[int, tuple[int, ...], tuple[int, ...]]]:
    """The issue's rules, one user at a time; ``held_of_user`` gives held-out movie ids."""
    by_user: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_user[row[0]].append(row)
    eligible = []
    for user in sorted(by_user):
        mine = by_user[user]
        held = held_of_user(user, mine)
        hist = [r for r in mine if r[1] not in held]
        out = [r for r in mine if r[1] in held]
        gold = sorted((r for r in out if r[2] >= relevant), key=lambda r: (-r[2], -r[3], r[1]))
        prof = sorted(hist, key=lambda r: (-r[2], -r[3], r[1]))
        five = sum(1 for r in hist if r[2] == 5)
        if five >= min_five and gold:
            eligible.append(
                (
                    user,
                    tuple(r[1] for r in prof[:profile_size]),
                    tuple(r[1] for r in gold[:max_gold]),
                )
            )
    if n_users is not None and n_users < len(eligible):
        rng = np.random.default_rng([seed, 0])
        picked = np.sort(rng.choice(len(eligible), size=n_users, replace=False))
        eligible = [eligible[i] for i in picked.tolist()]
    return eligible


def last_n_ref(n: int) -> Callable[[int, list[Row]], set[int]]:
    def held(user: int, mine: list[Row]) -> set[int]:
        latest = sorted(mine, key=lambda r: (r[3], r[1]), reverse=True)[:n]
        return {r[1] for r in latest}

    return held


def as_ratings(rows: list[Row]) -> Ratings:
    return Ratings(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        DAY0 + np.array([r[3] for r in rows], dtype="timedelta64[D]"),
    )


def got(dataset: Any) -> list[tuple[int, tuple[int, ...], tuple[int, ...]]]:
    return [(e.user_id, e.profile, e.gold) for e in dataset]


@st.composite
def rating_rows(draw: st.DrawFn) -> list[Row]:
    """Small tables with many ties (few dates, few star values) and sometimes huge ids."""
    n_users = draw(st.integers(1, 7))
    big = draw(st.booleans())
    id_space = st.integers(1, 2**31 - 1) if big else st.integers(1, 40)
    users = draw(st.lists(id_space, min_size=n_users, max_size=n_users, unique=True))
    movie_ids = draw(st.lists(id_space, min_size=1, max_size=14, unique=True))
    rows: list[Row] = []
    for u in users:
        seen = draw(st.lists(st.sampled_from(movie_ids), max_size=len(movie_ids), unique=True))
        for m in seen:
            rows.append((u, m, draw(st.integers(1, 5)), draw(st.integers(0, 6))))
    order = draw(st.permutations(range(len(rows))))
    return [rows[i] for i in order] or [(users[0], movie_ids[0], 5, 0)]


SMALL = {"min_five_star": 1, "profile_size": 3, "max_gold": 2}
SMALL_REF = {"min_five": 1, "profile_size": 3, "max_gold": 2}


# -- agreement with the reference -----------------------------------------------------------
@given(rows=rating_rows(), n=st.integers(1, 6), n_users=st.none() | st.integers(1, 4))
def test_last_n_agrees_with_reference(rows: list[Row], n: int, n_users: int | None) -> None:
    truth = LastNTruth(n=n, n_users=n_users, seed=3, **SMALL)
    built = truth.build(as_ratings(rows), progress=False)
    assert got(built) == reference(rows, last_n_ref(n), n_users=n_users, seed=3, **SMALL_REF)


@given(rows=rating_rows(), cut=st.integers(0, 7), relevant=st.integers(1, 5))
def test_time_split_agrees_with_reference(rows: list[Row], cut: int, relevant: int) -> None:
    cutoff = (DAY0 + np.timedelta64(cut, "D")).astype(dt.date)
    truth = TimeSplitTruth(cutoff=cutoff, n_users=None, relevant_min_rating=relevant, **SMALL)
    built = truth.build(as_ratings(rows), progress=False)

    def held(user: int, mine: list[Row]) -> set[int]:
        return {r[1] for r in mine if r[3] >= cut}

    assert got(built) == reference(rows, held, relevant=relevant, **SMALL_REF)


@given(rows=rating_rows(), data=st.data())
def test_probe_agrees_with_reference(rows: list[Row], data: st.DataObject) -> None:
    picked = data.draw(st.lists(st.sampled_from(rows), unique=True)) if rows else []
    probe = ProbeSet(
        np.array([r[1] for r in picked], dtype=np.int32),
        np.array([r[0] for r in picked], dtype=np.int32),
    )
    pairs = {(r[0], r[1]) for r in picked}
    built = ProbeTruth(n_users=None, **SMALL).build(as_ratings(rows), probe=probe, progress=False)

    def held(user: int, mine: list[Row]) -> set[int]:
        return {r[1] for r in mine if (user, r[1]) in pairs}

    assert got(built) == reference(rows, held, **SMALL_REF)
    assert built.meta["probe"]["n_pairs"] == len(picked)


@given(rows=rating_rows(), n=st.integers(1, 4))
def test_history_removes_exactly_the_held_out_ratings(rows: list[Row], n: int) -> None:
    ratings = as_ratings(rows)
    truth = LastNTruth(n=n)
    users = sorted({r[0] for r in rows})[::2]
    hist = truth.history(ratings, users=users)
    out = truth.held_out(ratings, users=users)
    held = last_n_ref(n)
    by_user: dict[int, list[Row]] = defaultdict(list)
    for r in rows:
        by_user[r[0]].append(r)
    expected_out = {(u, m) for u in users for m in held(u, by_user[u])}
    assert set(zip(out.user_id.tolist(), out.movie_id.tolist(), strict=True)) == expected_out
    assert len(hist) + len(out) == len(ratings)
    all_pairs = set(zip(hist.user_id.tolist(), hist.movie_id.tolist(), strict=True))
    assert not all_pairs & expected_out
    truth.check_fitting(hist, ratings, users=users)


# -- examples -------------------------------------------------------------------------------
def user_rows() -> list[Row]:
    """One user: six 5-star ratings early, then later ratings of 4, 2 and 5 stars."""
    rows = [(7, m, 5, m) for m in range(1, 7)]
    rows += [(7, 20, 4, 30), (7, 21, 2, 31), (7, 22, 5, 31), (9, 1, 3, 0)]
    return rows


def test_last_n_example_gold_and_profile_order() -> None:
    ds = LastNTruth(n=3, n_users=None).build(as_ratings(user_rows()), progress=False)
    (ex,) = ds.examples
    assert ex.user_id == 7
    assert ex.gold == (22, 20)  # 5 stars before 4; the 2-star rating is not relevant
    assert ex.profile == (6, 5, 4, 3, 2, 1)  # all 5 stars: most recent first
    meta = ds.meta
    assert meta["protocol"] == "last_n" and meta["config"]["n"] == 3
    assert meta["ratings_fingerprint"] == as_ratings(user_rows()).fingerprint()
    assert meta["n_eligible"] == 1 and meta["ineligible"] == {"few_five_star": 1, "no_gold": 0}
    assert LastNConfig.model_validate_json(LastNConfig(**meta["config"]).model_dump_json())


def test_last_n_ties_on_a_day_go_by_movie_id() -> None:
    rows = [(1, m, 5, 0) for m in (3, 9, 4, 8, 1)]
    out = LastNTruth(n=2).held_out(as_ratings(rows))
    assert sorted(out.movie_id.tolist()) == [8, 9]


def test_time_split_accepts_iso_strings_and_dates() -> None:
    a = TimeSplitTruth(cutoff="2003-01-31", n_users=None)
    b = TimeSplitTruth(cutoff=dt.date(2003, 1, 31), n_users=None)
    assert a.config == b.config
    ds = a.build(as_ratings(user_rows()), progress=False)
    assert ds.examples[0].gold == (22, 20)
    with pytest.raises(ConfigError, match="cutoff"):
        TimeSplitTruth(cutoff="last tuesday")
    with pytest.raises(ConfigError):
        LastNTruth(n=0)
    with pytest.raises(ConfigError):
        LastNTruth(bogus=1)


def test_probe_pair_without_rating_is_named() -> None:
    probe = ProbeSet(np.array([20, 99], dtype=np.int32), np.array([7, 7], dtype=np.int32))
    with pytest.raises(DataFormatError, match="movie 99, customer 7"):
        ProbeTruth().build(as_ratings(user_rows()), probe=probe, progress=False)
    twice = ProbeSet(np.array([20, 20], dtype=np.int32), np.array([7, 7], dtype=np.int32))
    with pytest.raises(DataFormatError, match="listed twice"):
        ProbeTruth(probe=twice).history(as_ratings(user_rows()))
    with pytest.raises(ConfigError, match="probe set"):
        ProbeTruth().build(as_ratings(user_rows()), progress=False)


def test_same_seed_same_targets_other_seed_other_targets() -> None:
    rows = [(u, m, 5 if m < 6 else 4, m) for u in range(1, 40) for m in range(1, 12)]
    ratings = as_ratings(rows)
    a = LastNTruth(n=2, n_users=5, seed=1).build(ratings, progress=False)
    b = LastNTruth(n=2, n_users=5, seed=1).build(ratings, progress=False)
    c = LastNTruth(n=2, n_users=5, seed=2).build(ratings, progress=False)
    assert a.user_ids == b.user_ids != c.user_ids
    assert a.user_ids == sorted(a.user_ids)


@pytest.mark.parametrize(
    "truth",
    [LastNTruth(n=2, n_users=None), TimeSplitTruth(cutoff="2003-01-30", n_users=None)],
    ids=["last_n", "time_split"],
)
def test_truths_share_the_interface(truth: HoldoutTruth) -> None:
    ratings = as_ratings(user_rows())
    ds = truth.build(ratings, progress=False)
    assert len(ds) == 1 and ds.meta["protocol"] == truth.protocol
    assert len(truth.history(ratings)) + len(truth.held_out(ratings)) == len(ratings)


def test_empty_ratings_give_an_empty_dataset() -> None:
    empty = Ratings([], [], [], np.zeros(0, dtype="datetime64[D]"))
    for truth in (LastNTruth(), TimeSplitTruth(cutoff="2004-01-01")):
        ds = truth.build(empty, progress=False)
        assert len(ds) == 0 and ds.meta["n_eligible"] == 0
        assert len(truth.history(empty)) == 0
