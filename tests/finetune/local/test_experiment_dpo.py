"""End to end: an experiment with a DPO arm (``[finetune.local.dpo]``) beside the zero-shot and
SFT arms on a tiny model: preference files from the train split, DPO of the SFT model, the three
arms on the same test users with paired tests between every two of them."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.errors import ConfigError
from llmrec.experiment import ExperimentConfig, run
from llmrec.experiment.arm_tests import arm_pairs
from llmrec.experiment.config import SyntheticSource
from llmrec.experiment.data_source import load_source

SMALL_DATA = {"kind": "synthetic", "n_users": 600, "n_movies": 120, "n_ratings": 20_000, "seed": 5}
ARM_PAIRS = {"fine-tuned vs zero-shot", "dpo vs zero-shot", "dpo vs fine-tuned"}


@pytest.fixture(scope="module")
def synthetic_tiny(private_dir: Path) -> Path:
    from llmrec.prompts import PromptTemplate
    from llmrec.testing.tiny_model import build_tiny_model

    _, catalog = load_source(SyntheticSource(**SMALL_DATA), progress=False)
    template = PromptTemplate(n_recommendations=5)
    return build_tiny_model(private_dir / "synthetic-tiny-dpo", catalog, template=template)


def _config(model: Path, *, dpo: bool = True) -> dict[str, Any]:
    gen = {"device": "cpu", "max_new_tokens": 40, "batch_size": 8}
    local: dict[str, Any] = {
        "model": str(model),
        "method": "full",
        "epochs": 1,
        "batch_size": 8,
        "learning_rate": 2e-3,
        "lr_scheduler": "constant",
        "warmup_ratio": 0.0,
    }
    if dpo:
        local["dpo"] = {
            "beta": 0.1,
            "rejected": "popularity",
            "epochs": 1,
            "batch_size": 8,
            "learning_rate": 1e-3,
            "lr_scheduler": "constant",
            "warmup_ratio": 0.0,
            "lora_r": 4,
        }
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
            {"name": "transformers", "label": "dpo", "config": {"fine_tuned": "dpo", **gen}},
        ],
        "finetune": {"enabled": True, "provider": "local", "local": local},
    }


def test_arm_pairs_are_every_later_arm_against_every_earlier_one() -> None:
    assert arm_pairs(["a"]) == []
    assert arm_pairs(["a", "b", "c"]) == [("b", "a"), ("c", "a"), ("c", "b")]


def test_the_transformers_backend_asks_for_the_dpo_arm_with_fine_tuned_dpo() -> None:
    from llmrec.recommenders import get_recommender
    from llmrec.recommenders.capabilities import uses_dpo_model, uses_fine_tuned_model

    dpo = get_recommender("transformers", fine_tuned="dpo")
    sft = get_recommender("transformers", fine_tuned=True)
    base = get_recommender("transformers", model="some/model")
    assert [uses_fine_tuned_model(r) for r in (dpo, sft, base)] == [True, True, False]
    assert [uses_dpo_model(r) for r in (dpo, sft, base)] == [True, False, False]
    with pytest.raises(ConfigError, match="fine_tuned"):
        get_recommender("transformers", fine_tuned="sft")


def test_reproduce_with_a_dpo_arm_reports_three_arms_with_paired_tests(
    synthetic_tiny: Path, tmp_path: Path
) -> None:
    from llmrec.finetune import read_preference_jsonl
    from llmrec.finetune.local.manifest import MANIFEST_NAME, LocalTrainManifest
    from llmrec.local_models import folder_sha256

    cfg_path = tmp_path / "study.json"
    cfg_path.write_text(json.dumps(_config(synthetic_tiny)))
    out = tmp_path / "run"
    assert main(["reproduce", str(cfg_path), "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    ds = results["datasets"]["profileData50"]
    assert set(ds["metrics"]) == {"popularity", "zero-shot", "fine-tuned", "dpo"}

    # the three arms ran on the same test users, and every two of them are tested
    users: dict[str, set[str]] = {}
    with open(out / ds["per_user_csv"], newline="") as fh:
        for row in csv.DictReader(fh):
            users.setdefault(row["backend"], set()).add(row["user_id"])
    assert users["zero-shot"] == users["fine-tuned"] == users["dpo"]
    assert len(users["dpo"]) == ds["n_test"] > 0
    arms = ds["arm_comparisons"]
    assert set(arms) == ARM_PAIRS
    for label, comp in arms.items():
        assert label == f"{comp['a']} vs {comp['b']}"
        assert comp["n_paired"] == ds["n_test"] and comp["n_only_a"] == comp["n_only_b"] == 0
        assert set(comp["results"]) >= {"precision@5", "ndcg@10"}
    assert set(ds["comparisons"]) == {"zero-shot", "fine-tuned", "dpo"}  # vs the baseline
    assert arms["dpo vs fine-tuned"]["results"]["precision@5"]["diff"] == pytest.approx(
        ds["metrics"]["dpo"]["metrics"]["precision@5"]["mean"]
        - ds["metrics"]["fine-tuned"]["metrics"]["precision@5"]["mean"]
    )

    # the DPO arm ran its own folder, trained from the SFT folder as reference
    sft = Path(ds["fine_tuned_model"])
    info = ds["finetune"]["dpo"]
    dpo = Path(info["fine_tuned_model"])
    assert dpo.is_dir() and sft.is_dir() and dpo != sft
    assert dpo.parent == sft.parent == (out / "finetune").resolve()
    assert info["adapter_sha256"] == folder_sha256(dpo) != ds["finetune"]["local"]["weights_sha256"]
    manifest = LocalTrainManifest.load(dpo / MANIFEST_NAME)
    assert manifest.method == "dpo" and manifest.status == "succeeded"
    assert manifest.reference is not None and manifest.reference["path"] == str(sft)
    assert manifest.reference["sha256"] == folder_sha256(sft)
    config_of = {
        label: json.loads((out / f"recs/profileData50/{label}.config.json").read_text())
        for label in ("zero-shot", "fine-tuned", "dpo")
    }
    assert config_of["zero-shot"]["config"]["model"] == str(synthetic_tiny)
    assert config_of["fine-tuned"]["config"]["model"] == str(sft)
    assert config_of["dpo"]["config"]["model"] == str(dpo)

    # the pairs come from the train split: one per train user unless counted as dropped
    files = info["files"]
    pairs = read_preference_jsonl(out / files["train"]["path"])
    dropped = sum(files["train"]["dropped"].values())
    assert len(pairs) == files["train"]["n_pairs"] == ds["n_train"] - dropped > 0
    assert all(p.chosen != p.rejected for p in pairs)
    assert manifest.train_file["examples"] == len(pairs)

    # two compute lines, 0 USD; the DPO one counts both answers of every pair
    lines = [p for p in results["plan"] if p["kind"] == "local-training"]
    assert len(lines) == 2 and all(p["usd"] == 0.0 and p["will_run"] for p in lines)
    (dpo_line,) = [p for p in lines if p["step"].startswith("DPO")]
    assert dpo_line["input_tokens"] == info["tokens"] == manifest.tokens_seen > 0
    assert info["flops"] == pytest.approx(8 * info["parameters"] * info["tokens"])

    report = (out / "report.md").read_text()
    assert "Paired tests between the language-model arms" in report
    for label in ARM_PAIRS:
        assert f"| {label} | precision@5 |" in report
    assert "DPO arm: the SFT arm preference-tuned locally (beta 0.1" in report
    assert f"adapter sha256 {info['adapter_sha256'][:12]}" in report

    # a rerun trains nothing, writes no pairs and generates nothing
    again = run(ExperimentConfig.from_file(cfg_path), out, progress=False)
    assert {"dpo-files:profileData50", "finetune-dpo:profileData50"} <= set(again.reused)
    assert "arm-tests:profileData50" in again.reused
    assert not [s for s in again.ran if s.startswith(("backend:", "finetune", "dpo", "arm"))]
    assert again.document.datasets["profileData50"].arm_comparisons == arms

    # another beta retrains the DPO arm only: the SFT arm and its answers are reused
    cfg = _config(synthetic_tiny)
    cfg["finetune"]["local"]["dpo"]["beta"] = 0.5
    third = run(ExperimentConfig.model_validate(cfg), out, progress=False)
    assert {"finetune-local:profileData50", "dpo-files:profileData50"} <= set(third.reused)
    assert "backend:profileData50:fine-tuned" in third.reused
    assert {"finetune-dpo:profileData50", "backend:profileData50:dpo"} <= set(third.ran)
    new_dpo = third.document.datasets["profileData50"].finetune["dpo"]["fine_tuned_model"]
    assert new_dpo != str(dpo) and Path(new_dpo).is_dir()


def test_dry_run_plans_both_trainings_in_compute_and_trains_nothing(
    synthetic_tiny: Path, tmp_path: Path
) -> None:
    out = tmp_path / "d"
    result = run(ExperimentConfig.model_validate(_config(synthetic_tiny)), out, dry_run=True)
    lines = [p for p in result.plan if p.kind == "local-training"]
    assert len(lines) == 2
    assert all(p.will_run and p.usd == 0.0 and p.input_tokens > 0 for p in lines)
    assert [p.step.split()[0] for p in lines] == ["fine-tune", "DPO"]
    lm = [p for p in result.plan if p.kind == "inference"]
    assert len(lm) == 3 and all(p.usd == 0.0 for p in lm)
    dpo = next(e for e in result.document.datasets["profileData50"].backends if e.label == "dpo")
    assert dpo.planned and dpo.recommendations is None and dpo.skipped is None
    # no model trained, no record, no answer: only the free files (pairs counted exactly)
    finetune = out / "finetune"
    assert not [p for p in finetune.iterdir() if p.is_dir()]
    assert not (finetune / "profileData50.local.json").exists()
    assert not (finetune / "profileData50.dpo.json").exists()
    assert (finetune / "profileData50.dpo.train.jsonl").is_file()
    assert not (out / "recs").exists() and not (out / "results.json").exists()


def test_dpo_of_a_lora_sft_arm_is_planned_on_the_sft_adapter(
    synthetic_tiny: Path, tmp_path: Path
) -> None:
    """A LoRA SFT arm's adapter keeps training under DPO: the DPO plan counts its rank (8), not
    the DPO table's lora_r (4), and changing DPO settings leaves the SFT stage's key alone."""
    cfg = _config(synthetic_tiny)
    cfg["finetune"]["local"].update(method="lora", lora_r=8)
    result = run(ExperimentConfig.model_validate(cfg), tmp_path / "a", dry_run=True)
    ft = result.document.datasets["profileData50"].finetune
    assert ft["dpo"]["trainable_parameters"] == ft["local"]["trainable_parameters"] > 0
    assert ft["dpo"]["parameters"] == ft["local"]["parameters"]

    cfg["finetune"]["local"]["dpo"]["lora_r"] = 16  # ignored: the SFT adapter is trained
    again = run(ExperimentConfig.model_validate(cfg), tmp_path / "a", dry_run=True)
    ft_again = again.document.datasets["profileData50"].finetune
    assert ft_again["dpo"]["trainable_parameters"] == ft["dpo"]["trainable_parameters"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"enabled": False}, r"needs the SFT arm it starts from.*finetune.enabled = true"),
        ({"provider": "openai"}, r"set finetune.provider = 'local'"),
        ({"local_method": "dpo"}, r"\[finetune.local\] method = 'dpo'"),
        ({"no_dpo": True}, r"'dpo' \(transformers\) runs the DPO arm's model.*no DPO arm"),
    ],
)
def test_a_dpo_arm_without_the_sft_arm_is_a_clear_config_error(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    cfg = _config(tmp_path / "model", dpo="no_dpo" not in change)
    ft = cfg["finetune"]
    if "enabled" in change:
        ft["enabled"] = change["enabled"]
    if "provider" in change:
        ft["provider"] = change["provider"]
    if "local_method" in change:
        ft["local"]["method"] = change["local_method"]
    out = tmp_path / "e"
    with pytest.raises(ConfigError, match=message):
        run(ExperimentConfig.model_validate(cfg), out, dry_run=True)
    assert not out.exists()  # refused before anything is written
