"""``results.json`` keeps its content: a file written by llmrec 0.1 and a new one both read into
the typed :class:`Results` and write back the same JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.experiment import ExperimentConfig, Results, run
from llmrec.experiment.report import render_markdown

FIXTURE = Path(__file__).parent / "fixtures" / "results-0.1.json"


def test_a_results_file_of_llmrec_0_1_reads_and_writes_back_unchanged() -> None:
    old = json.loads(FIXTURE.read_text())
    doc = Results.from_json_dict(old)
    assert doc.to_json_dict() == old
    ds = doc.datasets["profileData50"]
    assert ds.llm_diagnostics is not None
    assert ds.llm_diagnostics["zero-shot"].hallucination_rate == pytest.approx(1 / 11)
    assert [e.label for e in ds.backends if e.llm] == ["zero-shot", "fine-tuned"]
    # the report renders from the old file too
    config = ExperimentConfig.model_validate(old["config"])
    assert "## Table 2: profileData50" in render_markdown(doc, config)


def test_a_new_results_file_has_the_same_shape_and_reads_back(tmp_path: Path) -> None:
    config = {
        "data": {"kind": "synthetic", "n_users": 400, "n_movies": 80, "n_ratings": 12_000},
        "truth": {"profileData50": {"n_users": 40, "neighbour_min_rating": 5}},
        "truth_replace": True,
        "n_bootstrap": 20,
        "backends": [{"name": "popularity"}, {"name": "openai-zero-shot", "label": "zero-shot"}],
    }
    result = run(ExperimentConfig.model_validate(config), tmp_path, progress=False)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written == result.results == result.document.to_json_dict()
    assert Results.from_json_dict(written).to_json_dict() == written
    old = json.loads(FIXTURE.read_text())
    assert set(written) == set(old) | {"summary", "spend"}  # summary and spend are new
    ds, old_ds = written["datasets"]["profileData50"], old["datasets"]["profileData50"]
    assert set(ds) == set(old_ds) | {"kind", "fitting", "arm_comparisons"}
    assert ds["arm_comparisons"] is None  # fewer than two language-model arms evaluated
    assert ds["kind"] == "neighbour" and ds["fitting"]["rule"] == "other-users"
    skipped = next(e for e in ds["backends"] if e["label"] == "zero-shot")
    assert set(skipped) == {"backend", "label", "llm", "skipped", "estimated_cost_usd"}
    assert set(ds["beyond_accuracy"]["popularity"]) == {
        "catalog_coverage",
        "mean_popularity",
        "head_share",
    }
    # a plan line adds only why it is skipped and the stage that performs it
    assert set(written["plan"][0]) == set(old["plan"][0]) | {"reason"}
    assert written["plan"][0]["reason"] == "fine-tuning is off (finetune.enabled = false)"
    assert set(written["plan"][1]) == set(old["plan"][0]) | {"reason", "stage", "worst_usd"}
