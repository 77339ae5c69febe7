"""End to end: ``llmrec reproduce`` with ``finetune.provider = "local"`` trains the fine-tuned arm
on a tiny model and evaluates it and the zero-shot arm through the ``transformers`` backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.experiment import ExperimentConfig, run
from llmrec.experiment.config import SyntheticSource
from llmrec.experiment.data_source import load_source

SMALL_DATA = {"kind": "synthetic", "n_users": 600, "n_movies": 120, "n_ratings": 20_000, "seed": 5}


@pytest.fixture(scope="module")
def synthetic_tiny(private_dir: Path) -> Path:
    from llmrec.prompts import PromptTemplate
    from llmrec.testing.tiny_model import build_tiny_model

    _, catalog = load_source(SyntheticSource(**SMALL_DATA), progress=False)
    template = PromptTemplate(n_recommendations=5)
    return build_tiny_model(private_dir / "synthetic-tiny", catalog, template=template)


def _config(model: Path, *, enabled: bool = True) -> dict[str, Any]:
    gen = {"device": "cpu", "max_new_tokens": 40, "batch_size": 8}
    return {
        "data": SMALL_DATA,
        "truth": {"profileData50": {"n_users": 40, "neighbour_min_rating": 5}},
        "truth_replace": True,
        "template": {"n_recommendations": 5},
        "k": 5,
        "n_bootstrap": 20,
        "budget_usd": 0.0,
        "backends": [
            {"name": "popularity"},
            {"name": "transformers", "label": "zero-shot", "config": {"model": str(model), **gen}},
            {"name": "transformers", "label": "fine-tuned", "config": {"fine_tuned": True, **gen}},
        ],
        "finetune": {
            "enabled": enabled,
            "provider": "local",
            "local": {
                "model": str(model),
                "method": "full",
                "epochs": 1,
                "batch_size": 8,
                "learning_rate": 2e-3,
                "lr_scheduler": "constant",
                "warmup_ratio": 0.0,
            },
        },
    }


def test_reproduce_trains_locally_and_reports_both_arms(
    synthetic_tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmrec.local_models import folder_sha256

    cfg_path = tmp_path / "study.json"
    cfg_path.write_text(json.dumps(_config(synthetic_tiny)))
    out = tmp_path / "run"
    assert main(["reproduce", str(cfg_path), "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    ds = results["datasets"]["profileData50"]
    assert set(ds["metrics"]) == {"popularity", "zero-shot", "fine-tuned"}
    assert set(ds["llm_diagnostics"]) == {"zero-shot", "fine-tuned"}
    assert all(d["cost_usd"] == 0.0 for d in ds["llm_diagnostics"].values())

    trained = Path(ds["fine_tuned_model"])
    local = ds["finetune"]["local"]
    assert trained.is_dir() and trained.parent == (out / "finetune").resolve()
    assert local["base_model"] == str(synthetic_tiny)
    assert local["base_sha256"] == folder_sha256(synthetic_tiny)
    assert local["weights_sha256"] == folder_sha256(trained)
    assert local["tokens_seen"] == local["tokens"] > 0
    assert local["flops"] == pytest.approx(6 * local["parameters"] * local["tokens"])
    assert local["gpu_hours"] == pytest.approx(local["flops"] / (100e12 * 3600))

    # each arm ran its own model: the fine-tuned arm's config names the trained folder
    ft_config = json.loads((out / "recs/profileData50/fine-tuned.config.json").read_text())
    zs_config = json.loads((out / "recs/profileData50/zero-shot.config.json").read_text())
    assert ft_config["config"]["model"] == str(trained)
    assert zs_config["config"]["model"] == str(synthetic_tiny)

    (line,) = [p for p in results["plan"] if p["kind"] == "local-training"]
    assert line["usd"] == 0.0 and "GPU-hours" in line["step"] and line["will_run"]
    assert not [p for p in results["plan"] if p["kind"] == "training"]  # no hosted job priced

    report = (out / "report.md").read_text()
    assert f"base model `{synthetic_tiny}`" in report
    assert f"weights sha256 {local['weights_sha256'][:12]}" in report
    assert "GPU-hours" in report

    # a rerun trains nothing and generates nothing
    again = run(ExperimentConfig.from_file(cfg_path), out, progress=False)
    assert "finetune-local:profileData50" in again.reused
    assert not [s for s in again.ran if s.startswith(("backend:", "finetune"))]


def test_dry_run_plans_local_training_in_compute(synthetic_tiny: Path, tmp_path: Path) -> None:
    result = run(
        ExperimentConfig.model_validate(_config(synthetic_tiny)), tmp_path / "d", dry_run=True
    )
    (line,) = [p for p in result.plan if p.kind == "local-training"]
    assert line.will_run and line.usd == 0.0 and line.input_tokens > 0
    lm = [p for p in result.plan if p.kind == "inference"]
    assert len(lm) == 2 and all(p.usd == 0.0 and p.input_tokens > 0 for p in lm)
    assert not (tmp_path / "d" / "finetune" / "profileData50.local.json").exists()


def test_without_the_local_section_the_error_says_what_to_add(tmp_path: Path) -> None:
    from llmrec.errors import ConfigError

    cfg = _config(tmp_path)
    del cfg["finetune"]["local"]
    cfg["backends"] = [{"name": "popularity"}]
    with pytest.raises(ConfigError, match=r"\[finetune.local\] with model"):
        run(ExperimentConfig.model_validate(cfg), tmp_path / "e", dry_run=True)
