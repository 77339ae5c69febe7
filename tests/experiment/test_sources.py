"""``[data]`` kinds beyond Netflix, MovieLens and synthetic: RecBole atomic folders, Amazon
reviews files and llmrec's own folders, each with ``kcore``; files written by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmrec.data import kcore
from llmrec.data.convert import save_llmrec
from llmrec.errors import DataFormatError
from llmrec.experiment import ExperimentConfig, run
from llmrec.experiment.data_source import load_source

N_USERS, N_ITEMS = 40, 12


def _interactions() -> list[tuple[int, int, int, int]]:
    """(user, item, rating, time): every user rates a seeded set of items, a few users rate
    only two (so a 3-core drops them)."""
    rng = np.random.default_rng(3)
    rows = []
    for u in range(1, N_USERS + 1):
        n = 2 if u % 10 == 0 else 8
        for j, i in enumerate(rng.choice(N_ITEMS, size=n, replace=False)):
            rows.append((u, int(i) + 1, int(rng.integers(1, 6)), 880_000_000 + 1000 * u + j))
    return rows


def _recbole(folder: Path) -> Path:
    folder.mkdir()
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    lines += [f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in _interactions()]
    (folder / "toy.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = ["item_id:token\tmovie_title:token_seq\trelease_year:token"]
    items += [f"{i}\tFilm number {i}\t{1990 + i}" for i in range(1, N_ITEMS + 1)]
    (folder / "toy.item").write_text("\n".join(items) + "\n", encoding="utf-8")
    return folder


def _amazon(path: Path) -> tuple[Path, Path]:
    with open(path, "w", encoding="utf-8") as fh:
        for u, i, r, t in _interactions():
            row = {"user_id": f"U{u:03d}", "parent_asin": f"B{i:05d}", "rating": float(r)}
            fh.write(json.dumps({**row, "timestamp": t * 1000}) + "\n")
    meta = path.with_name("meta.jsonl")
    with open(meta, "w", encoding="utf-8") as fh:
        for i in range(1, N_ITEMS + 1):
            fh.write(json.dumps({"parent_asin": f"B{i:05d}", "title": f"Product {i}"}) + "\n")
    return path, meta


def test_a_recbole_folder_is_read_with_its_titles(tmp_path: Path) -> None:
    folder = _recbole(tmp_path / "toy")
    config = ExperimentConfig.model_validate({"data": {"kind": "recbole", "path": str(folder)}})
    ratings, catalog = load_source(config.data, progress=False)
    assert len(ratings) == len(_interactions())
    assert ratings.n_users == N_USERS
    assert catalog.title(1) == "Film number 1"


def test_kcore_filters_before_any_truth(tmp_path: Path) -> None:
    folder = _recbole(tmp_path / "toy")
    plain = ExperimentConfig.model_validate({"data": {"kind": "recbole", "path": str(folder)}})
    cut = ExperimentConfig.model_validate(
        {"data": {"kind": "recbole", "path": str(folder), "kcore": 3}}
    )
    ratings, _ = load_source(plain.data, progress=False)
    kept, catalog = load_source(cut.data, progress=False)
    expected = kcore(ratings, 3)
    assert len(kept) == len(expected) < len(ratings)
    assert kept.n_users == N_USERS - N_USERS // 10  # the two-rating users are gone
    assert {m.movie_id for m in catalog} == set(np.unique(kept.movie_id).tolist())


def test_an_amazon_file_and_an_llmrec_folder_give_the_same_ratings(tmp_path: Path) -> None:
    reviews, meta = _amazon(tmp_path / "reviews.jsonl")
    config = ExperimentConfig.model_validate(
        {"data": {"kind": "amazon", "path": str(reviews), "meta": str(meta)}}
    )
    ratings, catalog = load_source(config.data, progress=False)
    assert len(ratings) == len(_interactions())
    assert sorted(m.title for m in catalog)[0] == "Product 1"
    save_llmrec(tmp_path / "saved", ratings, catalog)
    again = ExperimentConfig.model_validate(
        {"data": {"kind": "llmrec", "path": str(tmp_path / "saved")}}
    )
    ratings2, catalog2 = load_source(again.data, progress=False)
    assert ratings2.fingerprint() == ratings.fingerprint()
    assert [m.title for m in catalog2] == [m.title for m in catalog]


def test_unknown_options_and_probe_truths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="meta"):
        ExperimentConfig.model_validate(
            {"data": {"kind": "recbole", "path": str(tmp_path), "meta": "x"}}
        )
    with pytest.raises(ValueError, match="RecBole source has no probe set"):
        ExperimentConfig.model_validate(
            {
                "data": {"kind": "recbole", "path": str(tmp_path)},
                "truth": {"p": {"kind": "probe"}},
                "truth_replace": True,
            }
        )


def test_a_run_on_a_recbole_folder(tmp_path: Path) -> None:
    folder = _recbole(tmp_path / "toy")
    config = ExperimentConfig.model_validate(
        {
            "data": {"kind": "recbole", "path": str(folder), "kcore": 3},
            "truth": {
                "last2": {"kind": "last_n", "n": 2, "min_five_star": 0, "relevant_min_rating": 1}
            },
            "truth_replace": True,
            "metrics": ["precision@5"],
            "n_bootstrap": 10,
            "backends": [{"name": "popularity"}, {"name": "itemknn"}],
        }
    )
    result = run(config, tmp_path / "out", progress=False)
    assert result.results["data"]["n_users"] == N_USERS - N_USERS // 10
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["data"] == {
        "kind": "recbole",
        "path": str(folder),
        "dataset": None,
        "implicit_rating": None,
        "kcore": 3,
    }
    rerun = run(config, tmp_path / "out", progress=False)
    assert rerun.ran == []


def test_a_missing_folder_names_it(tmp_path: Path) -> None:
    config = ExperimentConfig.model_validate(
        {"data": {"kind": "llmrec", "path": str(tmp_path / "nowhere")}}
    )
    with pytest.raises(DataFormatError, match="nowhere: not a saved Ratings folder"):
        load_source(config.data, progress=False)
