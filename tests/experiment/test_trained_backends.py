"""``llmrec reproduce`` runs the sequential backends like every backend, and reports what
training them cost: seconds and parameter count, in ``results.json`` and ``report.md``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.cli import main
from llmrec.experiment import ExperimentConfig, run

pytest.importorskip("torch")

TINY = {"epochs": 1, "max_length": 8, "batch_size": 256, "seed": 0, "device": "cpu"}
SASREC = {**TINY, "hidden_size": 8, "heads": 2, "inner_size": 16}
GRU4REC = {**TINY, "embedding_size": 8, "hidden_size": 8}


def _config() -> dict[str, object]:
    return {
        "data": {"kind": "synthetic", "n_users": 400, "n_movies": 80, "n_ratings": 12_000},
        "truth": {"profileData50": {"n_users": 40, "neighbour_min_rating": 5}},
        "truth_replace": True,
        "n_bootstrap": 20,
        "backends": [
            {"name": "popularity"},
            {"name": "sasrec", "config": SASREC},
            {"name": "gru4rec", "label": "GRU", "config": GRU4REC},
        ],
    }


def _sasrec_parameters(n_items: int, h: int, length: int, blocks: int, inner: int) -> int:
    """Item and position embeddings, the input LayerNorm, then per block: query, key, value
    and output maps, two LayerNorms and the feed-forward's two layers (weights and biases)."""
    block = 4 * (h * h + h) + 2 * 2 * h + (h * inner + inner) + (inner * h + h)
    return (n_items + 1) * h + length * h + 2 * h + blocks * block


def _gru4rec_parameters(n_items: int, e: int, h: int) -> int:
    """Item embeddings, a bias-free GRU (three gates, input and hidden maps), the dense map."""
    return (n_items + 1) * e + 3 * (h * e + h * h) + (h * e + e)


def test_reproduce_reports_training_seconds_and_parameters(tmp_path: Path) -> None:
    config_file = tmp_path / "study.json"
    config_file.write_text(json.dumps(_config()))
    out = tmp_path / "out"
    assert main(["reproduce", str(config_file), "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    ds = results["datasets"]["profileData50"]
    assert set(ds["metrics"]) == {"popularity", "sasrec", "GRU"}
    entries = {e["label"]: e for e in ds["backends"]}
    assert "train_seconds" not in entries["popularity"]  # nothing trained, nothing added
    assert "n_parameters" not in entries["popularity"]
    # both counts follow their network's layout for one and the same number of movies (the
    # movies of the fitting ratings): SASRec's gives it, GRU4Rec's must agree
    movies = entries["sasrec"]["n_parameters"] - _sasrec_parameters(0, 8, 8, 2, 16)
    assert movies % 8 == 0  # the embeddings of the movies, 8 numbers each
    n_movies = movies // 8
    assert 1 <= n_movies <= 80
    assert entries["GRU"]["n_parameters"] == _gru4rec_parameters(n_movies, 8, 8)
    for label in ("sasrec", "GRU"):
        assert entries[label]["train_seconds"] > 0
    report = (out / "report.md").read_text()
    for label in ("sasrec", "GRU"):
        seconds, params = entries[label]["train_seconds"], entries[label]["n_parameters"]
        assert f"| {label} | {seconds:.1f} | {params:,} |" in report

    # a second run reuses the fitted stages and reports the figures of the run that trained
    second = run(ExperimentConfig.model_validate(_config()), out, progress=False)
    assert second.ran == []
    assert json.loads((out / "results.json").read_text())["datasets"] == results["datasets"]
