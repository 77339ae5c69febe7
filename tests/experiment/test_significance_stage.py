"""The paired significance tests are a resumable stage with a progress bar (issue 11, item 22)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.experiment import ExperimentConfig, run

CONFIG = {
    "data": {"kind": "synthetic", "n_users": 400, "n_movies": 80, "n_ratings": 12_000},
    "truth": {"profileData50": {"n_users": 40}},
    "truth_replace": True,
    "n_bootstrap": 5,
    "backends": [{"name": "popularity"}, {"name": "itemknn"}],
    "metrics": ["precision@3", "mrr"],
}


def test_a_rerun_reuses_the_significance_tests(tmp_path: Path) -> None:
    config = ExperimentConfig.model_validate(CONFIG)
    first = run(config, tmp_path, progress=False)
    assert "significance:profileData50" in first.ran
    comparisons = first.document.datasets["profileData50"].comparisons
    assert comparisons is not None and set(comparisons) == {"itemknn"}
    results = json.loads((tmp_path / "results.json").read_text())["datasets"]

    again = run(config, tmp_path, progress=False)
    assert "significance:profileData50" in again.reused
    assert again.ran == []
    assert json.loads((tmp_path / "results.json").read_text())["datasets"] == results

    # a new seed changes the tests' key, so they run again (and only they, and the bootstrap)
    reseeded = ExperimentConfig.model_validate({**CONFIG, "seed": 1})
    third = run(reseeded, tmp_path, progress=False)
    assert third.ran == ["significance:profileData50"]
    stored = json.loads((tmp_path / "metrics" / "profileData50.comparisons.json").read_text())
    assert stored["itemknn"]["seed"] == 1


def test_the_significance_tests_show_a_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ExperimentConfig.model_validate(CONFIG), tmp_path, progress=True)
    assert "paired tests on profileData50" in capsys.readouterr().err
