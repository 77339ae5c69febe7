"""The hosted DPO arm: ``[finetune.dpo]`` runs from ``llmrec reproduce`` against the local
OpenAI-compatible server, after the hosted SFT arm and from its model, priced before anything is
sent, resumed instead of repeated, and reported beside the zero-shot and SFT arms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.errors import ConfigError
from llmrec.experiment import ExperimentConfig, run
from llmrec.testing import LocalOpenAIServer

SMALL_DATA = {"kind": "synthetic", "n_users": 600, "n_movies": 120, "n_ratings": 20_000, "seed": 5}
DPO_BASE = "gpt-4.1-mini-2025-04-14"  # OpenAI documents DPO for the gpt-4.1 family
SFT_BASE = "gpt-4o-mini-2024-07-18"
ARM_PAIRS = {"fine-tuned vs zero-shot", "dpo vs zero-shot", "dpo vs fine-tuned"}


def _config(base_url: str | None, **finetune: Any) -> dict[str, Any]:
    return {
        "data": SMALL_DATA,
        "truth": {"profileData50": {"n_users": 60, "neighbour_min_rating": 5}},
        "truth_replace": True,
        "n_bootstrap": 20,
        "base_url": base_url,
        "backends": [
            {"name": "popularity"},
            {"name": "openai-zero-shot", "label": "zero-shot"},
            {"name": "openai-fine-tuned", "label": "fine-tuned"},
            {"name": "openai-fine-tuned", "label": "dpo", "arm": "dpo"},
        ],
        "finetune": {
            "enabled": True,
            "poll_interval": 0.02,
            "dpo": {"beta": 0.2, "rejected": "popularity"},
            **finetune,
        },
    }


@pytest.fixture(scope="module")
def titles() -> list[str]:
    from llmrec.experiment.config import SyntheticSource
    from llmrec.experiment.data_source import load_source

    _, catalog = load_source(SyntheticSource(**SMALL_DATA), progress=False)
    return [movie.label() for movie in list(catalog)[:60]]


def _answers(titles: list[str]) -> Any:
    """Each model answers with its own ten real titles, so the three arms differ."""

    def chat(body: dict[str, Any]) -> str:
        start = sum(map(ord, str(body["model"]))) % 50
        return "\n".join(f"{i + 1}. {t}" for i, t in enumerate(titles[start : start + 10]))

    return chat


def test_reproduce_runs_the_hosted_dpo_job_from_the_sft_model(
    tmp_path: Path, titles: list[str]
) -> None:
    with LocalOpenAIServer(chat=_answers(titles), fine_tune_step_seconds=0.02) as srv:
        cfg = _config(srv.base_url)
        cfg["free"] = True  # the local server bills nothing (and names DPO models ft:ft:...)
        # DPO continues from the SFT model (gpt-4o-mini, which the local server accepts for DPO)
        cfg["finetune"]["dpo"]["allow_unlisted_model"] = True
        cfg_path = tmp_path / "study.json"
        cfg_path.write_text(json.dumps(cfg))
        out = tmp_path / "out"
        assert main(["reproduce", str(cfg_path), "--out", str(out), "--quiet"]) == 0
        jobs = [
            r.body
            for r in srv.requests
            if r.method == "POST" and r.path.endswith("/fine_tuning/jobs")
        ]
        results = json.loads((out / "results.json").read_text())
        ds = results["datasets"]["profileData50"]
        sft, info = ds["fine_tuned_model"], ds["finetune"]["dpo"]

        # two jobs: SFT on the base model, then DPO starting from the SFT model
        assert [j["method"]["type"] for j in jobs] == ["supervised", "dpo"]  # type: ignore[index]
        assert jobs[0]["model"] == SFT_BASE and jobs[1]["model"] == sft  # type: ignore[index]
        assert jobs[1]["method"]["dpo"]["hyperparameters"]["beta"] == 0.2  # type: ignore[index]
        assert sft.startswith(f"ft:{SFT_BASE}") and info["fine_tuned_model"].startswith("ft:")
        assert info["fine_tuned_model"] != sft and info["reference"] == sft

        # every arm ran its own model on the same test users, and every two are tested
        model_of = {
            label: json.loads((out / f"recs/profileData50/{label}.config.json").read_text())
            for label in ("zero-shot", "fine-tuned", "dpo")
        }
        assert model_of["fine-tuned"]["config"]["model"] == sft
        assert model_of["dpo"]["config"]["model"] == info["fine_tuned_model"]
        assert set(ds["arm_comparisons"]) == ARM_PAIRS
        assert ds["llm_diagnostics"]["dpo"]["responses"] == ds["n_test"] > 0

        # the pairs were uploaded as they were written: one per train user not dropped
        pairs = (out / info["files"]["train"]["path"]).read_text().splitlines()
        dropped = sum(info["files"]["train"]["dropped"].values())
        assert len(pairs) == info["files"]["train"]["n_pairs"] == ds["n_train"] - dropped > 0
        assert info["pairs"] == len(pairs)

        # the plan priced both jobs before anything was sent (free server: 0 USD)
        training = [p for p in results["plan"] if p["kind"] == "training"]
        assert [p["step"].split()[0] for p in training] == ["fine-tune", "DPO"]
        assert training[1]["input_tokens"] == info["billed_tokens"] > 0
        report = (out / "report.md").read_text()
        assert "DPO arm: a hosted DPO job (beta 0.2, 2 epochs)" in report
        assert f"model `{info['fine_tuned_model']}`" in report

        # a rerun starts no job and asks nothing
        n_requests = len(srv.requests)
        again = run(ExperimentConfig.from_file(cfg_path), out, progress=False)
        assert {"finetune-job:profileData50", "finetune-dpo-job:profileData50"} <= set(again.reused)
        assert not [s for s in again.ran if s.startswith(("backend:", "finetune", "dpo"))]
        assert len(srv.requests) == n_requests


def test_a_dry_run_prices_the_dpo_job_from_exact_pair_tokens(tmp_path: Path) -> None:
    from llmrec.finetune import count_preference_tokens

    cfg = _config(None)
    cfg["finetune"]["dpo"]["model"] = DPO_BASE  # DPO from the base model, not the SFT model
    result = run(ExperimentConfig.model_validate(cfg), tmp_path, dry_run=True)
    info = result.document.datasets["profileData50"].finetune["dpo"]
    rows = (tmp_path / info["files"]["train"]["path"]).read_text().splitlines()
    tokens = sum(count_preference_tokens(json.loads(row)) for row in rows)
    (line,) = [p for p in result.plan if p.step.startswith("DPO job")]
    assert line.kind == "training" and line.will_run
    assert line.input_tokens == info["billed_tokens"] == 2 * tokens  # 2 epochs
    assert line.usd == pytest.approx(2 * tokens * 5.00 / 1e6)  # gpt-4.1-mini trains at 5 USD/1M
    # the DPO backend is priced on the model the job will make (a fine-tuned gpt-4.1-mini)
    (backend,) = [p for p in result.plan if p.step.startswith("dpo on profileData50")]
    assert f"model ft:{DPO_BASE}" in backend.step and backend.usd is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"provider": "local"}, r"\[finetune.dpo\] is a hosted DPO job: set finetune.provider"),
        ({}, r"starts a DPO job from 'gpt-4o-mini-2024-07-18', but OpenAI documents DPO only"),
        ({"dpo": None}, r"'dpo' \(openai-fine-tuned\) runs the DPO arm's model.*no DPO arm"),
    ],
)
def test_hosted_dpo_config_problems_are_found_before_anything_runs(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    cfg = _config(None)
    cfg["finetune"].update(change)
    if change.get("provider") == "local":
        cfg["finetune"]["local"] = {"model": "some/model"}
    out = tmp_path / "e"
    with pytest.raises(ConfigError, match=message):
        run(ExperimentConfig.model_validate(cfg), out, dry_run=True)
    assert not out.exists()


def test_an_arm_on_a_backend_without_a_fine_tuned_model_is_an_error(tmp_path: Path) -> None:
    cfg = _config(None)
    cfg["backends"] = [{"name": "popularity", "arm": "dpo"}]
    with pytest.raises(ConfigError, match=r"'popularity' \(popularity\) has arm = 'dpo'"):
        run(ExperimentConfig.model_validate(cfg), tmp_path / "e", dry_run=True)


def test_unlisted_models_pass_when_allowed() -> None:
    from llmrec.experiment.validate import problems

    cfg = _config(None)
    assert any("documents DPO only" in p for p in problems(ExperimentConfig.model_validate(cfg)))
    cfg["finetune"]["dpo"]["allow_unlisted_model"] = True
    assert problems(ExperimentConfig.model_validate(cfg)) == []
