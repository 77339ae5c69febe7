"""ProfileDataset persistence, stats and splits, and the ``llmrec truth`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.cli import main
from llmrec.data.ratings import Ratings
from llmrec.errors import DataFormatError
from llmrec.truth import Example, NeighbourTruth, ProfileDataset


def small_ratings(seed: int = 0, users: int = 200, movies: int = 60) -> Ratings:
    """Two taste groups that five-star and watch their own half of the catalogue."""
    rng = np.random.default_rng(seed)
    u_list, m_list, r_list = [], [], []
    for u in range(users):
        group = u % 2
        own = np.arange(group * movies // 2, (group + 1) * movies // 2)
        seen = rng.choice(own, size=int(rng.integers(6, 20)), replace=False)
        u_list += [u + 1] * seen.size
        m_list += (seen + 1).tolist()
        r_list += rng.choice([3, 4, 5, 5], size=seen.size).tolist()
    days = rng.integers(0, 100, len(u_list))
    return Ratings(np.array(u_list), np.array(m_list), np.array(r_list), days)


@pytest.fixture(scope="module")
def built() -> ProfileDataset:
    return NeighbourTruth.profile_data_50(n_users=80, watch_factor=0.3).build(
        small_ratings(), progress=False
    )


def test_save_load_round_trip(tmp_path: Path, built: ProfileDataset) -> None:
    path = built.save(tmp_path / "pd50.jsonl")
    again = ProfileDataset.load(path)
    assert again.examples == built.examples
    assert again.meta == json.loads(json.dumps(built.meta))
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {"user_id", "profile", "gold", "n_neighbours"}


def test_stats_match_a_hand_count(built: ProfileDataset) -> None:
    s = built.stats()
    sizes = [len(g) for g in built.golds]
    top = set(built.meta["top_movies"])
    items = [m for g in built.golds for m in g]
    assert s.n_examples == len(built) > 0
    assert s.n_targets == 80
    assert s.left_out == built.meta["left_out"]
    assert s.gold_sizes == {k: sizes.count(k) for k in sorted(set(sizes))}
    assert s.gold_size["max"] == max(sizes) and s.gold_size["mean"] == pytest.approx(
        sum(sizes) / len(sizes)
    )
    assert s.n_neighbours["min"] == min(e.n_neighbours for e in built)
    assert s.popular_share == pytest.approx(sum(m in top for m in items) / len(items))
    assert "popular share" in str(s) and s.to_dict()["n_examples"] == len(built)


def test_stats_popular_share_worked_example() -> None:
    ds = ProfileDataset(
        [Example(1, (5,), (1, 2, 3), 4), Example(2, (6,), (1,), 2)],
        {"top_movies": [1, 2], "left_out": {"no_neighbours": 1, "empty_gold": 0}, "n_targets": 3},
    )
    s = ds.stats()
    assert s.popular_share == pytest.approx(3 / 4)
    assert s.gold_sizes == {1: 1, 3: 1} and s.n_targets == 3
    assert ProfileDataset([], {}).stats().popular_share is None


@given(n=st.integers(0, 60), seed=st.integers(0, 9))
def test_split_is_deterministic_disjoint_and_sized(n: int, seed: int) -> None:
    ds = ProfileDataset([Example(u * 3, (1,), (2,), 1) for u in range(n)][::-1], {"name": "x"})
    train, val, test = ds.split(seed=seed)
    again = ds.split(seed=seed)
    assert [p.examples for p in again] == [train.examples, val.examples, test.examples]
    ids = train.user_ids + val.user_ids + test.user_ids
    assert sorted(ids) == sorted(ds.user_ids) and len(set(ids)) == n
    assert len(train) == int(n * 0.7 + 1e-9) and len(val) == int(n * 0.2 + 1e-9)


def test_cli_build_and_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = small_ratings(1).save(tmp_path / "ratings")
    out = tmp_path / "truth.jsonl"
    args = ["truth", "build", str(folder), "--preset", "pd60", "--out", str(out)]
    args += ["--users", "all", "--max-neighbours", "30", "--min-overlap", "2"]
    code = main([*args, "--exclude", "history", "--quiet"])
    assert code == 0
    ds = ProfileDataset.load(out)
    cfg = ds.meta["config"]
    assert (cfg["name"], cfg["n_users"], cfg["max_neighbours"], cfg["min_overlap"]) == (
        "profileData60",
        None,
        30,
        2,
    )
    direct = NeighbourTruth.profile_data_60(
        n_users=None, max_neighbours=30, min_overlap=2, exclude="history"
    ).build(Ratings.load(folder), progress=False)
    assert ds.examples == direct.examples
    capsys.readouterr()
    assert main(["truth", "stats", str(out)]) == 0
    assert "profileData60" in capsys.readouterr().out


def test_cli_reports_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["truth", "build", str(tmp_path / "nope"), "--out", str(tmp_path / "o.jsonl")])
    assert code == 1
    assert "no such file" in capsys.readouterr().err


def test_load_rejects_malformed_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"user_id": 1, "profile": [1], "gold": "x", "n_neighbours": 2}\n')
    with pytest.raises(DataFormatError, match="line 1"):
        ProfileDataset.load(bad)
