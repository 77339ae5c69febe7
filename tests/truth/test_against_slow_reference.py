"""``NeighbourTruth`` gives, byte for byte, what the implementation before the performance
rework gave (kept verbatim as ``slow_truth_reference.py``): on the synthetic Netflix-shaped data,
for both presets, any batch size and worker count, and on random tables (hypothesis)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.data.ratings import Ratings
from llmrec.data.synthetic import SyntheticConfig, _generate
from llmrec.truth import NeighbourTruth, ProfileDataset


def _reference() -> ModuleType:
    name = "llmrec_tests_slow_truth_reference"
    if name not in sys.modules:
        path = Path(__file__).with_name("slow_truth_reference.py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def synthetic() -> Ratings:
    g = _generate(SyntheticConfig(n_users=1_500, n_movies=400, n_ratings=60_000, n_groups=8))
    date = np.datetime64("1999-11-11", "D") + g.days
    return Ratings(g.customer, g.movie, g.stars, date)


def _bytes(ds: ProfileDataset, folder: Path, name: str) -> bytes:
    return ds.save(folder / name).read_bytes()


@pytest.mark.parametrize(
    ("preset", "overrides", "jobs", "batch"),
    [
        ("profile_data_50", {}, 1, None),
        ("profile_data_60", {}, 2, 37),
        ("profile_data_50", {"max_neighbours": 40, "n_users": 300}, 2, None),
        ("profile_data_60", {"max_neighbours": 25, "exclude": "history"}, 1, 11),
        ("profile_data_50", {"max_neighbours": None, "min_overlap": 2}, 1, 64),
    ],
)
def test_byte_identical_to_the_slow_reference_on_synthetic_data(
    synthetic: Ratings,
    tmp_path: Path,
    preset: str,
    overrides: dict[str, object],
    jobs: int,
    batch: int | None,
) -> None:
    tool = getattr(NeighbourTruth, preset)(**overrides)
    ds = tool.build(synthetic, n_jobs=jobs, batch_size=batch, progress=False)
    examples, left = _reference().reference_examples(synthetic, tool.config)
    assert len(examples) > 50
    assert ds.meta["left_out"] == left
    old = ProfileDataset(examples, ds.meta)
    assert _bytes(ds, tmp_path, "new.jsonl") == _bytes(old, tmp_path, "old.jsonl")


@st.composite
def tables(draw: st.DrawFn) -> tuple[Ratings, dict[str, object]]:
    n_users = draw(st.integers(2, 25))
    n_movies = draw(st.integers(2, 20))
    cells = draw(
        st.sets(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_movies - 1)), min_size=1)
    )
    cells_l = sorted(cells)
    stars = draw(st.lists(st.integers(1, 5), min_size=len(cells_l), max_size=len(cells_l)))
    days = draw(st.lists(st.integers(0, 30), min_size=len(cells_l), max_size=len(cells_l)))
    users = [u * 7 + 3 for u, _ in cells_l]
    movies = [m * 3 + 1 for _, m in cells_l]
    date = np.datetime64("2005-01-01", "D") + np.asarray(days)
    config = {
        "n_users": None,
        "min_five_star": draw(st.integers(0, 2)),
        "profile_size": draw(st.integers(1, 5)),
        "neighbour_min_rating": draw(st.integers(3, 5)),
        "min_overlap": draw(st.sampled_from([1, 2, "all"])),
        "max_neighbours": draw(st.sampled_from([None, 1, 2, 4])),
        "watch_factor": draw(st.sampled_from([0.2, 0.5, 0.6, 1.0])),
        "exclude": draw(st.sampled_from(["profile", "history"])),
        "max_gold": draw(st.integers(1, 4)),
    }
    return Ratings(users, movies, stars, date), config


@settings(max_examples=60, deadline=None)
@given(table=tables(), batch=st.integers(1, 9))
def test_equal_to_the_slow_reference_on_random_tables(
    table: tuple[Ratings, dict[str, object]], batch: int
) -> None:
    ratings, config = table
    tool = NeighbourTruth(**config)
    ds = tool.build(ratings, batch_size=batch, progress=False)
    examples, left = _reference().reference_examples(ratings, tool.config, batch_size=batch)
    assert ds.examples == examples
    assert ds.meta["left_out"] == left


@settings(max_examples=40, deadline=None)
@given(table=tables(), batch=st.integers(1, 9))
def test_scipy_fallback_equals_the_compiled_kernel(
    table: tuple[Ratings, dict[str, object]], batch: int
) -> None:
    from llmrec.truth import _batch

    assert _batch._COCOUNT is not None  # the editable install builds the extension
    ratings, config = table
    tool = NeighbourTruth(**config)
    native = tool.build(ratings, batch_size=batch, progress=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_batch, "_COCOUNT", None)
        fallback = tool.build(ratings, batch_size=batch, progress=False)
    assert native.examples == fallback.examples
    assert native.meta == fallback.meta


def test_compiled_kernel_rejects_bad_arrays() -> None:
    from llmrec.truth import _cocount

    indptr = np.array([0, 2, 3], np.int32)
    indices = np.array([0, 1, 1], np.int32)
    out = [np.empty(4, np.int32) for _ in range(3)]
    ptr = np.array([0, 2], np.int64)
    need = np.array([2], np.int64)
    assert _cocount.hits(indptr, indices, 2, np.array([0, 1], np.int32), ptr, need, *out) == 1
    assert (out[0][0], out[1][0], out[2][0]) == (0, 1, 2)
    with pytest.raises(ValueError, match="not a row"):
        _cocount.hits(indptr, indices, 2, np.array([0, 5], np.int32), ptr, need, *out)
    with pytest.raises(ValueError, match="outside the matrix"):
        _cocount.hits(indptr, indices, 1, np.array([0, 1], np.int32), ptr, need, *out)
    with pytest.raises(TypeError, match="8-byte"):
        _cocount.hits(
            indptr, indices, 2, np.array([0, 1], np.int32), ptr.astype(np.int32), need, *out
        )


def test_compiled_kernel_reads_two_byte_columns_and_lists_candidates() -> None:
    from llmrec.truth import _cocount

    indptr = np.array([0, 2, 3], np.int32)
    out = [np.empty(4, np.int32) for _ in range(3)]
    ptr = np.array([0, 2], np.int64)
    need = np.array([2], np.int64)
    narrow = np.array([0, 1, 1], np.uint16)
    assert _cocount.hits(indptr, narrow, 2, np.array([0, 1], np.int32), ptr, need, *out) == 1
    assert (out[0][0], out[1][0], out[2][0]) == (0, 1, 2)
    with pytest.raises(TypeError, match="2-byte or 4-byte"):
        _cocount.hits(
            indptr, narrow.astype(np.int64), 2, np.array([0, 1], np.int32), ptr, need, *out
        )
    # fans: movie 0 has users 0, 2, 3; movie 1 has users 3, 1; targets: (movies 0, 1 | need 1,
    # not user 3) and (movies 0, 1 | need 2)
    f_ptr = np.array([0, 3, 5], np.int32)
    f_idx = np.array([0, 2, 3, 3, 1], np.int32)
    rows = np.array([0, 1, 0, 1], np.int32)
    found, found_ptr = np.empty(10, np.int32), np.empty(3, np.int64)
    args = (np.array([0, 2, 4], np.int64), np.array([1, 2], np.int64), np.array([3, -1], np.int64))
    assert _cocount.candidates(f_ptr, f_idx, 4, rows, *args, found, found_ptr) == 4
    assert found[:4].tolist() == [0, 1, 2, 3] and found_ptr.tolist() == [0, 3, 4]
    with pytest.raises(ValueError, match="outside the matrix"):
        _cocount.candidates(f_ptr, f_idx, 3, rows, *args, found, found_ptr)
    with pytest.raises(ValueError, match="not a row"):
        _cocount.candidates(f_ptr, f_idx, 4, rows + 1, *args, found, found_ptr)
    with pytest.raises(ValueError, match="too small"):
        _cocount.candidates(f_ptr, f_idx, 4, rows, *args, found[:3], found_ptr)


def test_compiled_kernel_counts_past_two_bytes_and_reads_four_byte_hot_columns() -> None:
    from llmrec.truth import _batch, _cocount
    from llmrec.truth._sparse import HotMatrix

    # one row with 70,000 neighbours (the same user repeated): counts beyond 65,535 are exact
    indptr = np.array([0, 2], np.int32)
    out = [np.empty(4, np.int32) for _ in range(3)]
    many = np.zeros(70_000, np.int32)
    ptr = np.array([0, many.size], np.int64)
    for wide in (np.uint16, np.int32):
        indices = np.array([0, 1], wide)
        assert _cocount.hits(indptr, indices, 2, many, ptr, np.array([70_000], np.int64), *out) == 2
        assert out[2][:2].tolist() == [70_000, 70_000]
    # a HotMatrix with 4-byte columns (more than 65,536 kept movies) gives the same hits
    rng = np.random.default_rng(3)
    rows = [
        np.sort(rng.choice(30, size=int(rng.integers(0, 12)), replace=False)) for _ in range(40)
    ]
    hot_ptr = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int32)
    hot_idx = np.concatenate(rows)
    movies = np.arange(0, 60, 2, dtype=np.int32)  # 30 kept movies of 60
    neighbours = [np.sort(rng.choice(40, size=9, replace=False)) for _ in range(5)]
    need = np.array([3, 4, 5, 2, 9], np.int64)
    use = np.ones(5, dtype=bool)
    found = [
        _batch._native_hits(
            HotMatrix(hot_ptr, hot_idx.astype(wide), movies, (40, 60), np.dtype(np.int16)),
            neighbours,
            use,
            need,
        )
        for wide in (np.uint16, np.int32)
    ]
    hot = HotMatrix(hot_ptr, hot_idx.astype(np.uint16), movies, (40, 60), np.dtype(np.int16))
    scipy_found = _batch._hits(hot.to_csr(), neighbours, use, need, 40)
    keys = [sorted(zip(*(a.tolist() for a in f), strict=True)) for f in [*found, scipy_found]]
    assert keys[0] == keys[1] == keys[2] and keys[0]


def test_workers_without_room_for_the_mapped_matrices_share_the_parents(
    synthetic: Ratings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmrec.truth import _sparse

    tool = NeighbourTruth.profile_data_50(max_neighbours=40, n_users=200)
    mapped = tool.build(synthetic, n_jobs=2, progress=False)

    def full_disk(core: object, folder: object) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_sparse, "mapped_core", full_disk)
    assert tool.build(synthetic, n_jobs=2, progress=False).examples == mapped.examples
