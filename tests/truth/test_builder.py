"""NeighbourTruth against a brute-force reference written plainly with Python sets."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError, DataFormatError
from llmrec.truth import NeighbourTruth, TruthConfig

Row = tuple[int, int, int, int]  # user, movie, stars, day


# -- the reference -------------------------------------------------------------------------------
@dataclass
class RefTarget:
    profile: list[int]
    candidates: set[int]


def ref_profile(rows: list[Row], user: int, size: int) -> list[int]:
    mine = [(m, r, d) for u, m, r, d in rows if u == user]
    mine.sort(key=lambda x: (-x[1], -x[2], x[0]))
    return [m for m, _, _ in mine[:size]]


def ref_candidates(rows: list[Row], user: int, profile: list[int], cfg: TruthConfig) -> set[int]:
    need = len(profile) if cfg.min_overlap == "all" else int(cfg.min_overlap)
    liked: dict[int, set[int]] = defaultdict(set)
    for u, m, r, _ in rows:
        if r >= cfg.neighbour_min_rating:
            liked[u].add(m)
    return {u for u in liked if u != user and len(liked[u] & set(profile)) >= need}


def ref_gold(
    rows: list[Row], user: int, profile: list[int], neighbours: set[int], cfg: TruthConfig
) -> list[int]:
    popularity = Counter(m for _, m, _, _ in rows)
    watched = Counter(m for u, m, r, _ in rows if u in neighbours and r >= cfg.watched_min_rating)
    factor = Fraction(repr(cfg.watch_factor))
    banned = set(profile)
    if cfg.exclude == "history":
        banned = {m for u, m, _, _ in rows if u == user}
    share = {m: Fraction(c, len(neighbours)) for m, c in watched.items()}
    gold = [m for m, s in share.items() if s >= factor and m not in banned]
    gold.sort(key=lambda m: (-share[m], -popularity[m], m))
    return gold[: cfg.max_gold]


def ref_eligible(rows: list[Row], cfg: TruthConfig) -> list[int]:
    five = Counter(u for u, _, r, _ in rows if r == 5)
    users = sorted({u for u, _, _, _ in rows})
    return [u for u in users if five[u] >= cfg.min_five_star]


def reference(rows: list[Row], cfg: TruthConfig) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Examples (user, profile, gold, n_neighbours) without random draws, and left-out counts."""
    out: list[tuple[Any, ...]] = []
    left = {"no_neighbours": 0, "empty_gold": 0}
    for user in ref_eligible(rows, cfg):
        profile = ref_profile(rows, user, cfg.profile_size)
        neighbours = ref_candidates(rows, user, profile, cfg)
        if not neighbours:
            left["no_neighbours"] += 1
            continue
        gold = ref_gold(rows, user, profile, neighbours, cfg)
        if not gold:
            left["empty_gold"] += 1
            continue
        out.append((user, tuple(profile), tuple(gold), len(neighbours)))
    return out, left


def to_ratings(rows: list[Row]) -> Ratings:
    if not rows:
        return Ratings(
            np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0, int)
        )
    u, m, r, d = zip(*rows, strict=True)
    return Ratings(np.array(u), np.array(m), np.array(r), np.array(d, dtype=np.int64))


def as_tuples(ds: Any) -> list[tuple[Any, ...]]:
    return [(e.user_id, e.profile, e.gold, e.n_neighbours) for e in ds]


# -- strategies ------------------------------------------------------------------------------------
@st.composite
def rating_rows(draw: st.DrawFn, max_users: int = 9, max_movies: int = 8) -> list[Row]:
    """A small, fairly dense rating table: each (user, movie) cell is unrated or 1-5 stars."""
    users = draw(st.lists(st.integers(-5, 40), min_size=1, max_size=max_users, unique=True))
    movies = draw(st.lists(st.integers(0, 30), min_size=1, max_size=max_movies, unique=True))
    cells = len(users) * len(movies)
    stars = draw(
        st.lists(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 5]), min_size=cells, max_size=cells)
    )
    days = draw(st.lists(st.integers(0, 3), min_size=cells, max_size=cells))  # many ties
    pairs = itertools.product(users, movies)
    return [(u, m, r, d) for (u, m), r, d in zip(pairs, stars, days, strict=True) if r]


watch_factors = st.sampled_from([0.1, 0.25, 1 / 3, 0.4, 0.5, 0.6, 2 / 3, 0.75, 0.8, 1.0])


@st.composite
def configs(draw: st.DrawFn) -> TruthConfig:
    return TruthConfig(
        n_users=None,
        seed=draw(st.integers(0, 3)),
        min_five_star=draw(st.integers(0, 2)),
        profile_size=draw(st.integers(1, 4)),
        neighbour_min_rating=draw(st.integers(1, 5)),
        min_overlap=draw(st.one_of(st.integers(1, 3), st.just("all"))),
        max_neighbours=draw(st.one_of(st.none(), st.just(1000))),
        watched_min_rating=draw(st.integers(1, 5)),
        watch_factor=draw(watch_factors),
        exclude=draw(st.sampled_from(["profile", "history"])),
        max_gold=draw(st.integers(1, 4)),
    )


# -- properties ------------------------------------------------------------------------------------
@given(rows=rating_rows(), cfg=configs(), batch=st.integers(1, 5))
def test_equals_reference_without_draws(rows: list[Row], cfg: TruthConfig, batch: int) -> None:
    tool, ratings = NeighbourTruth(cfg), to_ratings(rows)
    ds = tool.build(ratings, progress=False, batch_size=batch)
    expected, left = reference(rows, cfg)
    assert tool.eligible_users(ratings).tolist() == ref_eligible(rows, cfg)
    assert as_tuples(ds) == expected
    assert ds.meta["left_out"] == left
    assert ds.meta["n_targets"] == len(ref_eligible(rows, cfg))


@given(rows=rating_rows(), cfg=configs())
def test_pruning_rare_movies_always_equals_reference(rows: list[Row], cfg: TruthConfig) -> None:
    from llmrec.truth import _batch, _sparse

    def always_prune(core: Any, threshold: int) -> Any:
        return _sparse.without_rare_movies(core, threshold)

    with mock.patch.object(_batch, "_watched_for", always_prune):
        ds = NeighbourTruth(cfg).build(to_ratings(rows), progress=False)
    assert as_tuples(ds) == reference(rows, cfg)[0]


@given(
    rows=rating_rows(max_users=12),
    cfg=configs(),
    n_users=st.integers(1, 6),
    cap=st.integers(1, 3),
)
def test_draws_are_subsets_of_the_right_size(
    rows: list[Row], cfg: TruthConfig, n_users: int, cap: int
) -> None:
    cfg = cfg.model_copy(update={"n_users": n_users, "max_neighbours": cap})
    tool = NeighbourTruth(cfg)
    ratings = to_ratings(rows)
    ds = tool.build(ratings, progress=False)
    eligible = ref_eligible(rows, cfg)
    assert ds.meta["n_targets"] == min(n_users, len(eligible))
    assert set(ds.user_ids) <= set(eligible)
    assert len(ds) + sum(ds.meta["left_out"].values()) == ds.meta["n_targets"]
    drawn = tool.neighbours(ratings, eligible) if eligible else {}
    for e in ds:
        profile = ref_profile(rows, e.user_id, cfg.profile_size)
        candidates = ref_candidates(rows, e.user_id, profile, cfg)
        chosen = set(drawn[e.user_id].tolist())
        assert chosen <= candidates
        assert len(chosen) == min(cap, len(candidates)) == e.n_neighbours
        assert e.profile == tuple(profile)
        assert e.gold == tuple(ref_gold(rows, e.user_id, profile, chosen, cfg))


@given(rows=rating_rows(max_users=12), seed=st.integers(0, 5), batch=st.integers(1, 4))
def test_draws_do_not_depend_on_batching(rows: list[Row], seed: int, batch: int) -> None:
    tool = NeighbourTruth(n_users=4, max_neighbours=2, seed=seed, min_five_star=0, watch_factor=0.5)
    ratings = to_ratings(rows)
    a = tool.build(ratings, progress=False)
    b = tool.build(ratings, progress=False, batch_size=batch)
    assert a.examples == b.examples and a.meta == b.meta


# -- worked examples and edge cases ---------------------------------------------------------------
def test_worked_example_exact_threshold_three_of_five() -> None:
    # target 1 five-stars movies 10..13; users 2..6 five-star movie 10 (neighbours, 5 of them);
    # movie 20 watched by 3 of 5 = 60 % exactly, movie 21 by 2 of 5 = 40 %.
    rows: list[Row] = [(1, m, 5, 0) for m in (10, 11, 12, 13)]
    rows += [(u, 10, 5, 0) for u in (2, 3, 4, 5, 6)]
    rows += [(u, 20, 3, 0) for u in (2, 3, 4)] + [(u, 21, 2, 0) for u in (5, 6)]
    ratings = to_ratings(rows)
    pd60 = NeighbourTruth.profile_data_60(min_five_star=4).build(ratings, progress=False)
    assert as_tuples(pd60) == [(1, (10, 11, 12, 13), (20,), 5)]
    pd50 = NeighbourTruth.profile_data_50(watch_factor=0.4).build(ratings, progress=False)
    assert pd50[0].gold == (20, 21)
    just_above = NeighbourTruth.profile_data_60(watch_factor=0.6000001).build(
        ratings, progress=False
    )
    assert len(just_above) == 0 and just_above.meta["left_out"]["empty_gold"] == 1


def test_ties_in_profile_and_gold_orders() -> None:
    # target 1: equal stars and dates, so the profile is in movie-id order; newer date first.
    rows: list[Row] = [(1, 30, 5, 2), (1, 12, 5, 2), (1, 11, 5, 2), (1, 40, 5, 7), (1, 50, 4, 9)]
    # two neighbours rate every gold candidate; 60 and 61 tie on share, 61 more popular;
    # 70 and 71 tie on share and popularity, so id order decides.
    for u in (2, 3):
        rows += [(u, 11, 5, 0), (u, 60, 1, 0), (u, 61, 1, 0), (u, 70, 1, 0), (u, 71, 1, 0)]
    rows += [(9, 61, 1, 0)]
    cfg = TruthConfig(n_users=None, min_five_star=4, profile_size=4)
    ds = NeighbourTruth(cfg).build(to_ratings(rows), progress=False)
    assert ds[0].profile == (40, 11, 12, 30)
    assert ds[0].gold == (61, 60, 70, 71)


def test_min_overlap_all_and_users_without_neighbours() -> None:
    rows: list[Row] = [(1, 1, 5, 0), (1, 2, 5, 0), (2, 1, 5, 0), (2, 2, 5, 0), (2, 9, 1, 0)]
    rows += [(3, 1, 5, 0), (3, 8, 1, 0), (4, 7, 5, 0)]
    cfg = TruthConfig(n_users=None, min_five_star=1, min_overlap="all", profile_size=2)
    ds = NeighbourTruth(cfg).build(to_ratings(rows), progress=False)
    # 1's neighbours: only 2 (3 shares one movie); 4 rated a movie nobody else rated.
    assert (1, (1, 2), (9,), 1) in as_tuples(ds)
    assert ds.meta["left_out"]["no_neighbours"] >= 1
    assert 4 not in ds.user_ids


def test_exclude_history_drops_everything_the_target_rated() -> None:
    rows: list[Row] = [(1, 1, 5, 0), (1, 5, 1, 0), (2, 1, 5, 0), (2, 5, 1, 0), (2, 6, 1, 0)]
    base = {"n_users": None, "min_five_star": 1, "profile_size": 1}
    by_profile = NeighbourTruth(TruthConfig(**base)).build(to_ratings(rows), progress=False)
    by_history = NeighbourTruth(TruthConfig(**base, exclude="history")).build(
        to_ratings(rows), progress=False
    )
    assert by_profile.golds[0] == (5, 6)
    assert by_history.golds[0] == (6,)


def test_target_is_never_its_own_neighbour() -> None:
    rows: list[Row] = [(1, 1, 5, 0), (1, 2, 1, 0)]
    ds = NeighbourTruth(n_users=None, min_five_star=1).build(to_ratings(rows), progress=False)
    assert len(ds) == 0 and ds.meta["left_out"] == {"no_neighbours": 1, "empty_gold": 0}


def test_same_output_for_jobs_batches_and_executors() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    keys = np.unique(rng.integers(0, 300, n) * 1000 + rng.zipf(1.6, n) % 120)
    rows = [
        (int(k // 1000), int(k % 1000), int(rng.integers(3, 6)), int(rng.integers(0, 30)))
        for k in keys
    ]
    tool = NeighbourTruth.profile_data_50(n_users=60, max_neighbours=25, watch_factor=0.3)
    ratings = to_ratings(rows)
    base = tool.build(ratings, progress=False)
    assert len(base) > 10
    assert tool.build(ratings, progress=False, batch_size=7).examples == base.examples
    assert tool.build(ratings, progress=False, n_jobs=2).examples == base.examples
    with ThreadPoolExecutor(2) as pool:
        threaded = tool.build(ratings, progress=False, executor=pool, batch_size=9)
    assert threaded.examples == base.examples and threaded.meta == base.meta


def test_presets_and_overrides() -> None:
    pd50 = NeighbourTruth.profile_data_50(seed=7).config
    pd60 = NeighbourTruth.profile_data_60(n_users=None).config
    assert (pd50.name, pd50.neighbour_min_rating, pd50.watch_factor, pd50.seed) == (
        "profileData50",
        5,
        0.5,
        7,
    )
    assert (pd60.name, pd60.neighbour_min_rating, pd60.watch_factor, pd60.n_users) == (
        "profileData60",
        4,
        0.6,
        None,
    )
    assert TruthConfig.model_validate_json(pd60.model_dump_json()) == pd60
    with pytest.raises(ValueError):
        TruthConfig(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        TruthConfig(min_overlap=0)
    with pytest.raises(ConfigError, match="watch_factor"):
        NeighbourTruth(watch_factor=0.0)
    with pytest.raises(ConfigError, match="n_user"):
        NeighbourTruth.profile_data_50(n_user=5)


def test_meta_records_config_fingerprint_and_top_movies() -> None:
    rows: list[Row] = [(1, 1, 5, 0), (2, 1, 5, 0), (2, 2, 1, 0), (3, 2, 2, 0), (3, 3, 2, 0)]
    ratings = to_ratings(rows)
    ds = NeighbourTruth(n_users=None, min_five_star=1, name="mine").build(ratings, progress=False)
    assert ds.meta["ratings_fingerprint"] == ratings.fingerprint()
    assert ds.meta["config"]["name"] == "mine" and ds.meta["name"] == "mine"
    assert ds.meta["top_movies"] == [1, 2, 3]
    assert ds.meta["n_eligible"] == 2
    assert NeighbourTruth(min_five_star=1).eligible_users(ratings).tolist() == [1, 2]
    assert NeighbourTruth(min_five_star=0).eligible_users(ratings).tolist() == [1, 2, 3]


def test_bad_input_is_reported() -> None:
    dup = to_ratings([(1, 1, 5, 0), (1, 1, 4, 1)])
    with pytest.raises(DataFormatError, match="user 1, movie 1"):
        NeighbourTruth().build(dup, progress=False)
    with pytest.raises(ConfigError):
        NeighbourTruth().build(to_ratings([(1, 1, 5, 0)]), progress=False, n_jobs=0)
    with pytest.raises(ConfigError, match="user 99"):
        NeighbourTruth().neighbours(to_ratings([(1, 1, 5, 0)]), [99])


def test_empty_ratings_give_an_empty_dataset() -> None:
    ds = NeighbourTruth().build(to_ratings([]), progress=False)
    assert len(ds) == 0 and ds.meta["n_targets"] == 0


def test_public_product_fallback_gives_the_same_truth(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmrec.truth import _batch

    rng = np.random.default_rng(5)
    keys = np.unique(rng.integers(0, 120, 1500) * 1000 + rng.integers(0, 40, 1500))
    rows = [(int(k // 1000), int(k % 1000), int(rng.integers(2, 6)), 0) for k in keys]
    tool = NeighbourTruth(n_users=None, min_five_star=1, watch_factor=0.3)
    fast = tool.build(to_ratings(rows), progress=False)
    monkeypatch.setattr(_batch, "_matmat", None)
    assert tool.build(to_ratings(rows), progress=False).examples == fast.examples
    assert len(fast) > 0


def test_rarely_watched_movies_are_skipped_without_changing_the_truth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llmrec.truth import _sparse

    rng = np.random.default_rng(11)
    keys = np.unique(rng.integers(0, 80, 900) * 1000 + rng.zipf(1.3, 900) % 400)
    rows = [(int(k // 1000), int(k % 1000), int(rng.integers(3, 6)), 0) for k in keys]
    ratings = to_ratings(rows)
    tool = NeighbourTruth(n_users=None, min_five_star=1, max_neighbours=6, watch_factor=0.5)
    core = _sparse.build_core(ratings, tool.config)
    assert core.watched_hot is not None and core.watched_hot.nnz < core.watched.nnz
    pruned = _sparse.without_rare_movies(core, core.hot_need)
    assert (core.watched_hot.to_csr() != pruned).nnz == 0
    with_hot = tool.build(ratings, progress=False, batch_size=5)
    drawn = tool.neighbours(ratings, with_hot.user_ids)
    for e in with_hot:
        profile = list(e.profile)
        assert e.gold == tuple(
            ref_gold(rows, e.user_id, profile, set(drawn[e.user_id]), tool.config)
        )
    monkeypatch.setattr(_sparse, "_HOT_MIN_SAVING", 2.0)
    assert _sparse.build_core(ratings, tool.config).watched_hot is None
    assert tool.build(ratings, progress=False).examples == with_hot.examples
    assert sum(e.n_neighbours == 6 for e in with_hot) > 5


@pytest.mark.parametrize("prune", [False, True])
def test_movies_rated_by_one_user_only(prune: bool) -> None:
    from llmrec.truth import _batch, _sparse

    # 3 is rated only by user 2 and 4 only by user 1; each is the other's only neighbour.
    rows: list[Row] = [(1, 1, 5, 0), (1, 2, 5, 0), (1, 4, 2, 0), (2, 1, 5, 0), (2, 3, 1, 0)]

    def always_prune(core: Any, threshold: int) -> Any:
        return _sparse.without_rare_movies(core, threshold)

    tool = NeighbourTruth(n_users=None, min_five_star=1, exclude="history")
    with mock.patch.object(_batch, "_watched_for", always_prune if prune else _batch._watched_for):
        ds = tool.build(to_ratings(rows), progress=False)
    assert as_tuples(ds) == [(1, (1, 2, 4), (3,), 1), (2, (1, 3), (2, 4), 1)]


def test_progress_bar_does_not_change_the_output() -> None:
    rows: list[Row] = [(u, m, 5, 0) for u in range(1, 8) for m in range(1, 6)]
    tool = NeighbourTruth(n_users=None, min_five_star=1, profile_size=2)
    quiet = tool.build(to_ratings(rows), progress=False)
    shown = tool.build(to_ratings(rows), progress=True, batch_size=2)
    assert shown.examples == quiet.examples and len(quiet) == 7
    assert quiet[0].gold == (3, 4, 5) and quiet[0].n_neighbours == 6


def test_five_star_counts_exactly_five_stars_on_a_ten_point_scale() -> None:
    from llmrec.truth import _sparse

    rng = np.random.default_rng(5)
    keys = np.unique(rng.integers(0, 50, 600) * 1000 + rng.integers(0, 90, 600))
    rows = [(int(k // 1000), int(k % 1000), int(rng.integers(1, 11)), 0) for k in keys]
    ratings = to_ratings(rows)
    tool = NeighbourTruth(n_users=None, min_five_star=2, neighbour_min_rating=5)
    core = _sparse.build_core(ratings, tool.config)
    exact = Counter(u for u, _, stars, _ in rows if stars == 5)
    assert core.five_star.tolist() == [exact[int(u)] for u in core.user_ids]
    fans = Counter(m for _, m, stars, _ in rows if stars >= 5)
    assert np.diff(core.fans.indptr).tolist() == [fans[int(m)] for m in core.movie_ids]
    assert tool.eligible_users(ratings).tolist() == core.user_ids[tool._eligible(core)].tolist()
