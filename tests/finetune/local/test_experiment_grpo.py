"""End to end: an experiment with a GRPO arm (``[finetune.local.grpo]``) beside the zero-shot,
SFT and DPO arms on a tiny model: the four arms on the same test users, with paired tests
between every two of them, and the GRPO plan line before training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.experiment import ExperimentConfig
from llmrec.experiment.arms.registry import arm_problems

from .test_experiment_dpo import SMALL_DATA, _config

ARMS = ("zero-shot", "fine-tuned", "dpo", "grpo")
GEN = {"device": "cpu", "max_new_tokens": 40, "batch_size": 8}


@pytest.fixture(scope="module")
def synthetic_tiny(private_dir: Path) -> Path:
    from llmrec.experiment.config import SyntheticSource
    from llmrec.experiment.data_source import load_source
    from llmrec.prompts import PromptTemplate
    from llmrec.testing.tiny_model import build_tiny_model

    _, catalog = load_source(SyntheticSource(**SMALL_DATA), progress=False)
    template = PromptTemplate(n_recommendations=5)
    return build_tiny_model(private_dir / "synthetic-tiny-grpo", catalog, template=template)


def _grpo_config(model: Path) -> dict[str, Any]:
    cfg = _config(model)
    cfg["finetune"]["local"]["grpo"] = {
        "reward": "ndcg@10",
        "num_generations": 2,
        "max_new_tokens": 40,
        "epochs": 1,
        "batch_size": 8,
        "learning_rate": 1e-4,
        "lr_scheduler": "constant",
        "warmup_ratio": 0.0,
        "lora_r": 4,
    }
    cfg["backends"].append(
        {
            "name": "transformers",
            "label": "grpo",
            "arm": "grpo",
            "config": {"fine_tuned": True, **GEN},
        }
    )
    return cfg


def test_a_grpo_backend_needs_the_grpo_arm(tmp_path: Path) -> None:
    cfg = _grpo_config(tmp_path / "model")
    del cfg["finetune"]["local"]["grpo"]
    problems = arm_problems(ExperimentConfig.model_validate(cfg))
    assert any("no GRPO arm" in p and "[finetune.local.grpo]" in p for p in problems), problems


@pytest.mark.slow
def test_reproduce_with_a_grpo_arm_reports_four_arms_with_paired_tests(
    synthetic_tiny: Path, tmp_path: Path
) -> None:
    from llmrec.finetune.local.manifest import MANIFEST_NAME, LocalTrainManifest
    from llmrec.local_models import folder_sha256

    cfg_path = tmp_path / "study.json"
    cfg_path.write_text(json.dumps(_grpo_config(synthetic_tiny)))
    out = tmp_path / "run"
    assert main(["reproduce", str(cfg_path), "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    ds = results["datasets"]["profileData50"]
    assert set(ds["metrics"]) == {"popularity", *ARMS}
    pairs = {f"{b} vs {a}" for i, b in enumerate(ARMS) for a in ARMS[:i]}
    assert set(ds["arm_comparisons"]) == pairs  # six pairs of the four arms
    for comp in ds["arm_comparisons"].values():
        assert comp["n_paired"] == ds["n_test"] > 0 and comp["n_only_a"] == comp["n_only_b"] == 0

    info = ds["finetune"]["grpo"]
    grpo = Path(info["fine_tuned_model"])
    assert grpo.is_dir() and info["weights_sha256"] == folder_sha256(grpo)
    manifest = LocalTrainManifest.load(grpo / MANIFEST_NAME)
    assert manifest.method == "grpo" and manifest.status == "succeeded"
    assert manifest.rewards and manifest.hyperparameters["num_generations"] == 2
    assert manifest.reference is not None
    assert manifest.reference["path"] == str(Path(ds["fine_tuned_model"]))
    config = json.loads((out / "recs/profileData50/grpo.config.json").read_text())
    assert config["config"]["model"] == str(grpo)
    steps = [line["step"] for line in results["plan"] or []]
    assert any(step.startswith("GRPO of the SFT arm locally") for step in steps), steps
    report = (out / "report.md").read_text()
    assert "GRPO arm" in report and "grpo vs fine-tuned" in report
