"""Candidate-ranking runs (issue 26): a heavy rater is skipped and counted, not a stopped run
(item 8); candidate sets found in an existing ``--out`` are checked against the truth before
they are used again (item 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.errors import ConfigError, DataFormatError
from llmrec.experiment import ExperimentConfig, run

N_MOVIES = 60
HEAVY = (1, 2, 3, 4, 5, 6)  # rated all but three movies each


def _movielens(folder: Path) -> Path:
    """An ml-100k folder: 60 users; users 1-6 rated 57 of the 60 movies, the others 12-20."""
    rng = np.random.default_rng(3)
    lines = []
    for user in range(1, 61):
        n = N_MOVIES - 3 if user in HEAVY else int(rng.integers(12, 21))
        movies = rng.choice(np.arange(1, N_MOVIES + 1), size=n, replace=False)
        for day, movie in enumerate(movies.tolist()):
            stars = int(rng.integers(3, 6))
            lines.append(f"{user}\t{movie}\t{stars}\t{1_000_000_000 + 86_400 * day}")
    folder.mkdir()
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    items = [f"{m}|Movie {m} ({1950 + m})|01-Jan-{1950 + m}||" for m in range(1, N_MOVIES + 1)]
    (folder / "u.item").write_text("\n".join(items) + "\n", encoding="iso-8859-1")
    return folder


def _config(data: Path, **truth: Any) -> ExperimentConfig:
    spec = {
        "kind": "last_n",
        "n": 2,
        "n_users": None,
        "min_five_star": 0,
        "relevant_min_rating": 3,
        "ranking": "candidates",
        "n_candidates": 8,
        **truth,
    }
    return ExperimentConfig.model_validate(
        {
            "data": {"kind": "movielens", "path": str(data)},
            "truth": {"t": spec},
            "truth_replace": True,
            "split": {"train": 0.2, "val": 0.1, "test": 0.7, "seed": 0},
            "n_bootstrap": 20,
            "backends": [{"name": "popularity"}],
        }
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _movielens(tmp_path_factory.mktemp("ml") / "ml-100k")


# -- item 8 ------------------------------------------------------------------------------------
def test_heavy_raters_are_skipped_and_counted(data: Path, tmp_path: Path) -> None:
    result = run(_config(data), tmp_path / "out", progress=False)
    ranking = result.document.datasets["t"].ranking
    assert ranking is not None
    test = json.loads((tmp_path / "out" / "candidates/t.jsonl.meta.json").read_text())
    skipped = test["skipped_users"]
    assert skipped and set(skipped) <= set(HEAVY)
    assert ranking.skipped_users == len(skipped)
    assert ranking.n_users + len(skipped) == result.document.datasets["t"].n_test
    assert ranking.backends["popularity"].n_users == ranking.n_users
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"{len(skipped)} test user(s) skipped" in report


def test_heavy_raters_stop_the_run_when_asked(data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[truth\.t\].*negatives needed"):
        run(_config(data, too_few_negatives="fail"), tmp_path / "out", progress=False)


# -- item 3 ------------------------------------------------------------------------------------
@pytest.fixture
def finished(data: Path, tmp_path: Path) -> tuple[Path, Any]:
    out = tmp_path / "out"
    first = run(_config(data), out, progress=False)
    return out, first


def _rerun(data: Path, out: Path) -> Any:
    return run(_config(data), out, progress=False)


def test_an_unchanged_set_is_reused(data: Path, finished: tuple[Path, Any]) -> None:
    out, first = finished
    again = _rerun(data, out)
    assert "candidates:t" in again.reused
    assert again.results["datasets"]["t"]["ranking"] == first.results["datasets"]["t"]["ranking"]


def test_an_edited_positive_is_refused(data: Path, finished: tuple[Path, Any]) -> None:
    out, _ = finished
    path = out / "candidates/t.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    row = rows[0]
    fake = next(m for m in row["candidates"] if m not in row["positives"])
    row["positives"] = [*row["positives"], fake]  # a non-gold movie marked positive
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
    with pytest.raises(DataFormatError, match=r"candidates/t\.jsonl.*(fingerprint|positives)"):
        _rerun(data, out)


def test_an_edited_positive_with_a_matching_fingerprint_is_refused(
    data: Path, finished: tuple[Path, Any]
) -> None:
    """Even with the metadata's fingerprint rewritten to match, the positives must be the
    truth's gold."""
    from llmrec.truth import CandidateSets

    out, _ = finished
    path = out / "candidates/t.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    row = rows[0]
    fake = next(m for m in row["candidates"] if m not in row["positives"])
    row["positives"] = [*row["positives"], fake]
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
    sets = CandidateSets.load(path)
    meta_path = out / "candidates/t.jsonl.meta.json"
    meta = json.loads(meta_path.read_text())
    meta["fingerprint"] = sets.fingerprint()
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match=f"user {row['user_id']}.*positives"):
        _rerun(data, out)


def test_a_dropped_line_is_refused(data: Path, finished: tuple[Path, Any]) -> None:
    out, _ = finished
    path = out / "candidates/t.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[1:]))
    with pytest.raises(DataFormatError, match=r"candidates/t\.jsonl"):
        _rerun(data, out)


def test_an_empty_file_is_refused(data: Path, finished: tuple[Path, Any]) -> None:
    out, _ = finished
    (out / "candidates/t.jsonl").write_text("")
    with pytest.raises(DataFormatError, match=r"candidates/t\.jsonl"):
        _rerun(data, out)


def test_a_non_utf8_file_is_refused(data: Path, finished: tuple[Path, Any]) -> None:
    out, _ = finished
    path = out / "candidates/t.jsonl"
    path.write_bytes(b"\xff\xfe" + path.read_bytes())
    with pytest.raises(DataFormatError, match=r"candidates/t\.jsonl.*UTF-8"):
        _rerun(data, out)
