"""The protocol switch: every backend on every truth (neighbour presets, probe, last-N, time
split), fitting sets checked for leakage, a table per truth and a backend × truth summary."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmrec.data import netflix
from llmrec.data.synthetic import ensure_synthetic
from llmrec.errors import ConfigError, LeakageError
from llmrec.experiment import ExperimentConfig, Results, run
from llmrec.experiment.demo import demo_config
from llmrec.experiment.summary import build_summary
from llmrec.experiment.truth_config import (
    LastNTruthSpec,
    NeighbourTruthSpec,
    ProbeTruthSpec,
    TimeSplitTruthSpec,
)
from llmrec.experiment.truths import check_fitting, fitting_ratings, load_source_probe
from llmrec.truth import LastNTruth, ProbeTruth, ProfileDataset, TimeSplitTruth

DATA = {"kind": "synthetic", "n_users": 400, "n_movies": 80, "n_ratings": 12_000, "seed": 5}
TRUTHS: dict[str, dict[str, Any]] = {
    "profileData50": {"n_users": 60, "neighbour_min_rating": 5, "watch_factor": 0.5},
    "profileData60": {"n_users": 60, "neighbour_min_rating": 4, "watch_factor": 0.6},
    "probe": {"kind": "probe", "n_users": 60},
    "last5": {"kind": "last_n", "n": 5, "n_users": 60},
    "recent": {"kind": "time_split", "cutoff": "2005-06-01", "n_users": 60},
}
KINDS = {
    "profileData50": "neighbour",
    "profileData60": "neighbour",
    "probe": "probe",
    "last5": "last_n",
    "recent": "time_split",
}


def _config(**extra: Any) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "data": DATA,
            "truth": TRUTHS,
            "truth_replace": True,
            "metrics": ["precision@5", "ndcg@10", "precision_tail@5"],
            "n_head": 20,
            "n_bootstrap": 20,
            "backends": [{"name": "popularity"}, {"name": "itemknn"}],
            **extra,
        }
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("protocol")
    return out, run(_config(), out, progress=False)


def test_every_backend_runs_on_every_truth(finished: tuple[Path, Any]) -> None:
    out, _ = finished
    doc = Results.from_json_dict(json.loads((out / "results.json").read_text()))
    assert set(doc.datasets) == set(TRUTHS)  # results.json sorts its keys
    for name, ds in doc.datasets.items():
        assert ds.kind == KINDS[name]
        assert ds.metrics is not None and set(ds.metrics) == {"popularity", "itemknn"}
        for report in ds.metrics.values():
            assert set(report["metrics"]) == {"precision@5", "ndcg@10", "precision_tail@5"}
            assert 0.0 <= report["head_share"] <= 1.0
        assert ds.beyond_accuracy is not None
        assert ds.beyond_accuracy["popularity"].head_share == pytest.approx(1.0)  # top 10 of 20
        assert ds.fitting is not None
        assert ds.fitting.rule == ("other-users" if KINDS[name] == "neighbour" else "history")
    summary = doc.summary
    assert summary is not None
    assert summary.truths == list(TRUTHS)
    assert summary.backends == ["popularity", "itemknn"]
    assert summary.metrics == ["precision@5", "ndcg@10"]
    assert len(summary.cells) == 2 * len(TRUTHS) * 2
    for cell in summary.cells:
        report = doc.datasets[cell.truth].metrics[cell.backend]  # type: ignore[index]
        assert cell.mean == report["metrics"][cell.metric]["mean"]
        assert cell.ci_low is not None and cell.ci_low <= cell.mean <= cell.ci_high  # type: ignore[operator]
    assert doc.artifacts is not None and doc.artifacts["summary_figure"] == "summary.png"
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_has_a_table_per_truth_and_the_summary(finished: tuple[Path, Any]) -> None:
    out, _ = finished
    report = (out / "report.md").read_text()
    assert "## Summary: every backend on every truth" in report
    for number, name in enumerate(TRUTHS, start=2):
        assert f"## Table {number}: {name}" in report
    assert "## Table 4: probe (probe truth)" in report
    assert "## Table 5: last5 (last_n truth)" in report
    summary = report.split("## Summary")[1].split("## Table 2")[0]
    assert "P@5:" in summary and "NDCG@10:" in summary
    assert "| backend | profileData50 | profileData60 | probe | last5 | recent |" in summary
    assert "Share of recommended movies in the head" in summary
    assert "precision_tail@5" in report
    assert "test users' history (held-out ratings removed)" in report
    assert "![Every backend on every truth](summary.png)" in report


def test_a_second_run_reuses_every_stage(finished: tuple[Path, Any]) -> None:
    out, first = finished
    assert {s.split(":")[0] for s in first.ran} == {
        "truth",
        "split",
        "finetune-files",
        "backend",
        "significance",
    }
    assert any(s == "truth:probe" for s in first.ran)
    again = run(_config(), out, progress=False)
    assert again.ran == []
    assert sorted(again.reused) == sorted(first.ran)
    assert again.results["summary"] == first.results["summary"]


def test_holdout_fitting_set_is_test_history_plus_other_users(finished: tuple[Path, Any]) -> None:
    out, _ = finished
    folder = ensure_synthetic(**{k: v for k, v in DATA.items() if k != "kind"})
    ratings = netflix.load_ratings(folder)
    probe = netflix.load_probe(folder / "probe.txt")
    truths = {
        "probe": ProbeTruth(probe=probe),
        "last5": LastNTruth(n=5),
        "recent": TimeSplitTruth(cutoff="2005-06-01"),
    }
    config = _config()
    for name, truth in truths.items():
        test = ProfileDataset.load(out / f"truth/{name}.test.jsonl")
        users = np.asarray(test.user_ids)
        fitting = fitting_ratings(config.truth[name], ratings, users, probe=probe)
        held = truth.held_out(ratings, users=users)
        assert len(held) > 0
        if name == "recent":  # a time split: the past of every user, nothing after the cutoff
            assert len(fitting) == int(np.sum(ratings.date < np.datetime64("2005-06-01")))
            assert (fitting.date < np.datetime64("2005-06-01")).all()
            continue
        assert len(fitting) == len(ratings) - len(held)
        # every rating of the other users is there, and the test users' history
        others = ~np.isin(ratings.user_id, users)
        assert np.sum(~np.isin(fitting.user_id, users)) == np.sum(others)
        history = truth.history(ratings, users=users)
        assert np.sum(np.isin(fitting.user_id, users)) == np.sum(np.isin(history.user_id, users))


@pytest.mark.parametrize("name", list(TRUTHS))
def test_fitting_on_all_ratings_is_caught(name: str, finished: tuple[Path, Any]) -> None:
    out, _ = finished
    folder = ensure_synthetic(**{k: v for k, v in DATA.items() if k != "kind"})
    ratings = netflix.load_ratings(folder)
    probe = netflix.load_probe(folder / "probe.txt")
    spec = _config().truth[name]
    users = ProfileDataset.load(out / f"truth/{name}.test.jsonl").user_ids
    right = fitting_ratings(spec, ratings, users, probe=probe)
    check_fitting(spec, right, ratings, users, probe=probe)  # the runner's own set passes
    with pytest.raises(LeakageError):
        check_fitting(spec, ratings, ratings, users, probe=probe)


def test_the_runner_asserts_the_fitting_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose fitting set held every rating stops before any backend is fitted."""
    truth_stage = importlib.import_module("llmrec.experiment.stages.truth")

    def everything(spec: Any, ratings: Any, test_users: Any, **kw: Any) -> Any:
        return ratings

    monkeypatch.setattr(truth_stage, "fitting_ratings", everything)
    config = _config(truth={"last5": TRUTHS["last5"]})
    with pytest.raises(LeakageError):
        run(config, tmp_path, progress=False)
    assert not (tmp_path / "recs").exists()


def test_old_style_truth_tables_are_neighbour_truths(tmp_path: Path) -> None:
    path = tmp_path / "old.toml"
    path.write_text(
        "[truth.profileData50]\nn_users = 100\nneighbour_min_rating = 5\nwatch_factor = 0.5\n"
        "[truth.profileData60]\nneighbour_min_rating = 4\nwatch_factor = 0.6\n"
    )
    config = ExperimentConfig.from_file(path)
    assert all(isinstance(t, NeighbourTruthSpec) for t in config.truth.values())
    assert config.truth["profileData50"].n_users == 100
    assert config.truth["profileData60"].watch_factor == 0.6  # type: ignore[union-attr]
    # and the JSON written beside a run reads back the same
    assert ExperimentConfig.model_validate_json(config.to_json()) == config


def test_truth_kinds_pick_their_config(tmp_path: Path) -> None:
    config = _config()
    assert isinstance(config.truth["probe"], ProbeTruthSpec)
    assert isinstance(config.truth["last5"], LastNTruthSpec)
    assert config.truth["last5"].n == 5
    assert isinstance(config.truth["recent"], TimeSplitTruthSpec)
    assert str(config.truth["recent"].cutoff) == "2005-06-01"
    path = tmp_path / "bad.toml"
    path.write_text('truth_replace = true\n[truth.x]\nkind = "neighbours"\n')
    with pytest.raises(ConfigError, match="unknown truth kind"):
        ExperimentConfig.from_file(path)
    path.write_text('truth_replace = true\n[truth.x]\nkind = "last_n"\nwatch_factor = 0.5\n')
    with pytest.raises(ConfigError, match="watch_factor"):
        ExperimentConfig.from_file(path)
    path.write_text('truth_replace = true\n[truth.x]\nkind = "time_split"\n')
    with pytest.raises(ConfigError, match="cutoff"):
        ExperimentConfig.from_file(path)


def test_a_probe_truth_needs_a_source_with_a_probe_set(tmp_path: Path) -> None:
    path = tmp_path / "ml.toml"
    path.write_text(
        "truth_replace = true\n"
        f'[data]\nkind = "movielens"\npath = "{tmp_path}"\n[truth.probe]\nkind = "probe"\n'
    )
    with pytest.raises(ConfigError, match="MovieLens source has no probe set"):
        ExperimentConfig.from_file(path)
    netflix_source = ExperimentConfig.model_validate(
        {
            "data": {"kind": "netflix", "path": str(tmp_path)},
            "truth": {"p": {"kind": "probe"}},
            "truth_replace": True,
        }
    )
    with pytest.raises(ConfigError, match=r"probe\.txt"):
        load_source_probe(netflix_source.data)
    # a Netflix folder with probe.txt gives that file's pairs
    folder = ensure_synthetic(**{k: v for k, v in DATA.items() if k != "kind"})
    with_probe = ExperimentConfig.model_validate(
        {
            "data": {"kind": "netflix", "path": str(folder)},
            "truth": {"p": {"kind": "probe"}},
            "truth_replace": True,
        }
    )
    found = load_source_probe(with_probe.data)
    expected = netflix.load_probe(folder / "probe.txt")
    assert len(found) > 0
    assert np.array_equal(found.user_id, expected.user_id)
    assert np.array_equal(found.movie_id, expected.movie_id)


def test_the_demo_shows_the_neighbour_truths_and_the_probe_truth() -> None:
    config = demo_config()
    assert {name: t.kind for name, t in config.truth.items()} == {
        "profileData50": "neighbour",
        "profileData60": "neighbour",
        "probe": "probe",
    }
    assert config.data.kind == "synthetic"


def test_the_summary_leaves_out_what_was_not_computed(finished: tuple[Path, Any]) -> None:
    out, _ = finished
    doc = Results.from_json_dict(json.loads((out / "results.json").read_text()))
    datasets = dict(doc.datasets)
    only_p5 = build_summary(datasets, ("precision@5", "mrr"))
    assert only_p5.metrics == ["precision@5"]  # mrr was not among the run's metrics
    assert only_p5.cell("itemknn", "probe", "precision@5") is not None
    assert only_p5.cell("itemknn", "probe", "mrr") is None
