"""Everything in an experiment config is checked before any stage runs (issue 11, items 17-18).

A dry run and a real run both refuse a config with an unknown backend, an unknown backend
option, a bad metric name or a baseline that is not one of the backends, naming every problem at
once and writing nothing; ``~`` is expanded in every path; a ``[data]`` table without ``kind`` is
synthetic; and a ``truth`` table never drops one of the study's data sets without saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.errors import ConfigError
from llmrec.experiment import ExperimentConfig, NetflixSource, run
from llmrec.experiment.validate import check_config

TINY = {"kind": "synthetic", "n_users": 400, "n_movies": 80, "n_ratings": 12_000}
ONE_TRUTH = {"profileData50": {"n_users": 40}}


def _config(**extra: Any) -> dict[str, Any]:
    return {"data": TINY, "truth": ONE_TRUTH, "truth_replace": True, "n_bootstrap": 5, **extra}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"backends": [{"name": "nope"}]}, "unknown backend 'nope'"),
        ({"backends": [{"name": "itemknn", "config": {"n_neighbors": 5}}]}, "n_neighbors"),
        ({"metrics": ["ndcg@0"]}, "ndcg@0"),
        ({"metrics": ["precision@3", "bogus@5"]}, "bogus@5"),
        ({"baseline": "nope"}, "baseline 'nope'"),
        (
            {"backends": [{"name": "popularity"}, {"name": "itemknn", "label": "popularity"}]},
            "label 'popularity'",
        ),
    ],
)
def test_a_bad_config_is_refused_before_anything_is_written(
    tmp_path: Path, extra: dict[str, Any], expected: str
) -> None:
    config = ExperimentConfig.model_validate(_config(**extra))
    for dry_run in (True, False):
        out = tmp_path / f"out-{dry_run}"
        with pytest.raises(ConfigError, match=expected):
            run(config, out, progress=False, dry_run=dry_run)
        assert not out.exists()  # validated before the first stage, not after other backends


def test_every_problem_is_named_at_once() -> None:
    config = ExperimentConfig.model_validate(
        _config(
            backends=[{"name": "nope"}, {"name": "itemknn", "config": {"n_neighbors": 5}}],
            metrics=["ndcg@0"],
            baseline="missing",
        )
    )
    with pytest.raises(ConfigError) as info:
        check_config(config)
    text = str(info.value)
    for part in ("'nope'", "n_neighbors", "ndcg@0", "baseline 'missing'", "(nope, itemknn)"):
        assert part in text, part
    assert "itemknn" in text and "openai-zero-shot" in text  # the registry's names are listed


def test_the_study_config_and_tail_metrics_are_valid() -> None:
    check_config(ExperimentConfig())
    check_config(ExperimentConfig.model_validate(_config(metrics=["precision_tail@5", "mrr"])))
    check_config(ExperimentConfig.from_file(Path(__file__).parents[2] / "examples/study.toml"))


def test_tail_metrics_are_scored_in_a_run(tmp_path: Path) -> None:
    config = ExperimentConfig.model_validate(
        _config(backends=[{"name": "popularity"}], metrics=["precision_tail@5", "recall@5"])
    )
    result = run(config, tmp_path, progress=False)
    cell = result.document.datasets["profileData50"].metrics
    assert cell is not None
    assert "precision_tail@5" in cell["popularity"]["metrics"]


def test_dry_run_on_the_command_line_names_the_bad_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path,
        "truth_replace = true\n[data]\nn_users = 400\nn_movies = 80\nn_ratings = 12000\n"
        "[truth.profileData50]\nn_users = 40\n"
        '[[backends]]\nname = "itemknn"\nconfig = { n_neighbors = 5 }\n',
    )
    assert main(["reproduce", str(path), "--dry-run", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"llmrec: error: {path}: invalid experiment config")
    assert "n_neighbors" in "\n".join(err)
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "o").exists()


# -- [data] without kind ----------------------------------------------------------------------
def test_a_data_table_without_kind_is_synthetic(tmp_path: Path) -> None:
    path = _write(tmp_path, "[data]\nn_users = 400\nn_movies = 80\nn_ratings = 12000\n")
    config = ExperimentConfig.from_file(path)
    assert config.data.kind == "synthetic"
    assert config.data.model_dump()["n_users"] == 400


def test_a_data_table_with_an_unknown_kind_names_the_kinds() -> None:
    with pytest.raises(Exception, match="synthetic"):
        ExperimentConfig.model_validate({"data": {"kind": "csv"}})


# -- truth tables -----------------------------------------------------------------------------
def test_a_truth_table_that_leaves_out_a_study_data_set_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "[truth.profileData50]\nn_users = 100\n")
    with pytest.raises(ConfigError, match="profileData60") as info:
        ExperimentConfig.from_file(path)
    assert "truth_replace" in str(info.value)


def test_truth_replace_builds_only_the_listed_data_sets() -> None:
    config = ExperimentConfig.model_validate({"truth": ONE_TRUTH, "truth_replace": True})
    assert list(config.truth) == ["profileData50"]


def test_a_study_data_set_keeps_the_study_parameters_not_given() -> None:
    config = ExperimentConfig.model_validate(
        {"truth": {"profileData50": {"n_users": 100}, "profileData60": {"n_users": 200}}}
    )
    p60 = config.truth["profileData60"]
    assert (p60.n_users, p60.neighbour_min_rating, p60.watch_factor) == (200, 4, 0.6)
    p50 = config.truth["profileData50"]
    assert (p50.n_users, p50.neighbour_min_rating, p50.watch_factor) == (100, 5, 0.5)
    # and the config written beside the artifacts reads back to the same config
    assert ExperimentConfig.model_validate_json(config.to_json()) == config


# -- ~ in paths -------------------------------------------------------------------------------
def test_tilde_is_expanded_in_config_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = ExperimentConfig.model_validate(
        {"data": {"kind": "netflix", "path": "~/netflix", "titles": "~/t/movie_titles.csv"}}
    )
    assert isinstance(config.data, NetflixSource)
    assert config.data.path == tmp_path / "netflix"
    assert config.data.titles == tmp_path / "t" / "movie_titles.csv"
    ml = ExperimentConfig.model_validate({"data": {"kind": "movielens", "path": "~/ml"}})
    assert ml.data.model_dump()["path"] == tmp_path / "ml"
