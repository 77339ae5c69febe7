"""The synthetic data's probe.txt and qualifying.txt: real layout, drawn from recent ratings."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from llmrec.data import netflix
from llmrec.data.synthetic import MARKER, ensure_synthetic, write_netflix
from llmrec.data.synthetic_probe import HIDDEN_WINDOW

KW = {"n_users": 300, "n_movies": 80, "n_ratings": 9_000, "seed": 3}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_netflix(tmp_path_factory.mktemp("hidden"), **KW)


def training_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in [*sorted(folder.glob("combined_data_*.txt")), folder / "movie_titles.csv"]:
        h.update(p.read_bytes())
    return h.hexdigest()


def test_training_files_are_unchanged_by_the_hidden_sets(folder: Path) -> None:
    # recorded with the generator as it was before probe.txt and qualifying.txt existed
    assert training_hash(folder) == (
        "53f63bf7b4abd9a11d9aca279fd79175a0472f4c9158cc95b136d079c64dd240"
    )


def test_files_parse_in_the_real_layout(folder: Path) -> None:
    text = (folder / "probe.txt").read_text(encoding="ascii")
    assert text.startswith("1:\n") or text.split("\n", 1)[0].endswith(":")
    probe = netflix.load_probe(folder)
    qual = netflix.load_qualifying(folder)
    assert len(probe) > 0 and len(qual) > 0
    # movies in id order, customers ascending within a movie
    assert np.all(np.diff(probe.movie_id) >= 0) and np.all(np.diff(qual.movie_id) >= 0)
    same = probe.movie_id[1:] == probe.movie_id[:-1]
    assert np.all(np.diff(probe.user_id)[same] > 0)
    # about a third of the hidden slots are probe pairs, as in the Prize (1.41M of 4.23M)
    assert 0.25 < len(probe) / (len(probe) + len(qual)) < 0.42


def test_probe_in_training_qualifying_not(folder: Path) -> None:
    ratings = netflix.load_ratings(folder, cache=False)
    pairs = set(zip(ratings.user_id.tolist(), ratings.movie_id.tolist(), strict=True))
    probe = netflix.load_probe(folder)
    qual = netflix.load_qualifying(folder)
    probe_pairs = list(zip(probe.user_id.tolist(), probe.movie_id.tolist(), strict=True))
    qual_pairs = list(zip(qual.user_id.tolist(), qual.movie_id.tolist(), strict=True))
    assert set(probe_pairs) <= pairs and len(set(probe_pairs)) == len(probe_pairs)
    assert not set(qual_pairs) & pairs and len(set(qual_pairs)) == len(qual_pairs)


def test_hidden_sets_come_from_each_users_most_recent_ratings(folder: Path) -> None:
    ratings = netflix.load_ratings(folder, cache=False)
    by_user: dict[int, list[tuple[np.datetime64, int]]] = defaultdict(list)
    for u, m, d in zip(
        ratings.user_id.tolist(), ratings.movie_id.tolist(), ratings.date, strict=True
    ):
        by_user[u].append((d, m))
    windows = {}
    for u, rows in by_user.items():
        latest = sorted(rows, reverse=True)[: min(HIDDEN_WINDOW, len(rows) // 2)]
        windows[u] = latest
    probe = netflix.load_probe(folder)
    for u, m in zip(probe.user_id.tolist(), probe.movie_id.tolist(), strict=True):
        assert m in {mm for _, mm in windows[u]}
    qual = netflix.load_qualifying(folder)
    per_user: dict[int, int] = defaultdict(int)
    for u, d in zip(qual.user_id.tolist(), qual.date, strict=True):
        per_user[u] += 1
        assert windows[u][-1][0] <= d <= windows[u][0][0]
    n_probe: dict[int, int] = defaultdict(int)
    for u in probe.user_id.tolist():
        n_probe[u] += 1
    for u, rows in windows.items():  # every window slot is hidden once, if a movie is left
        unrated = KW["n_movies"] - len(by_user[u])
        assert per_user[u] == min(len(rows) - n_probe[u], unrated)


def test_same_seed_same_bytes(folder: Path, tmp_path: Path) -> None:
    again = write_netflix(tmp_path / "again", **KW)
    for name in ("probe.txt", "qualifying.txt"):
        assert (again / name).read_bytes() == (folder / name).read_bytes()
    other = write_netflix(tmp_path / "other", **{**KW, "seed": 4})
    assert (other / "probe.txt").read_bytes() != (folder / "probe.txt").read_bytes()


def test_ensure_synthetic_completes_a_folder_from_before_the_hidden_sets(tmp_path: Path) -> None:
    out = ensure_synthetic(tmp_path / "s", **KW)
    probe = (out / "probe.txt").read_bytes()
    # an older folder: no hidden files, and a marker that does not list them
    for name in ("probe.txt", "qualifying.txt"):
        (out / name).unlink()
    meta = json.loads((out / MARKER).read_text())
    meta["files"] = {
        k: v for k, v in meta["files"].items() if not k.endswith(("probe.txt", "qualifying.txt"))
    }
    (out / MARKER).write_text(json.dumps(meta))
    ensure_synthetic(tmp_path / "s", **KW)
    assert (out / "probe.txt").read_bytes() == probe
    # a damaged probe file is detected by its hash, like the rating files
    (out / "qualifying.txt").write_bytes(b"1:\n5,2005-01-01\n")
    ensure_synthetic(tmp_path / "s", **KW)
    assert (out / "qualifying.txt").read_bytes() != b"1:\n5,2005-01-01\n"


def test_probe_truth_builds_offline_on_the_synthetic_data(folder: Path) -> None:
    from llmrec.truth import ProbeTruth

    ratings = netflix.load_ratings(folder, cache=False)
    truth = ProbeTruth(n_users=None, probe=netflix.load_probe(folder))
    ds = truth.build(ratings, progress=False)
    assert len(ds) > 10
    truth.check_fitting(truth.history(ratings, users=ds.user_ids), ratings, users=ds.user_ids)
