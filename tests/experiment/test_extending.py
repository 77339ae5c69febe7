"""Where new code goes: a new fine-tuning arm is one class and one ``register_arm`` call; a new
stage is one function of the run context. Each is added here and run."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from llmrec._io import write_json_atomic
from llmrec.experiment import ExperimentConfig, run
from llmrec.experiment.arms import FineTuningArm, register_arm, registered_arms, unregister_arm
from llmrec.experiment.context import LoadedData, PreparedTruth, RunContext
from llmrec.experiment.plan import PlanLine
from llmrec.experiment.stages import StageStore, stage_key
from llmrec.experiment.stages.data import load_data
from llmrec.experiment.stages.truth import prepare_truth
from llmrec.testing import LocalOpenAIServer

SMALL_DATA = {"kind": "synthetic", "n_users": 400, "n_movies": 80, "n_ratings": 12_000, "seed": 5}
ECHO_MODEL = "ft:gpt-4o-mini-2024-07-18:echo::{name}"


class EchoArm(FineTuningArm):
    """A toy arm: "trains" by writing a record naming a model, one free stage per truth."""

    provider = "openai"
    method = "echo"
    how_to_add = "register EchoArm"

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> EchoArm | None:
        return cls(config)

    def plan(
        self, ctx: RunContext, truth: PreparedTruth, data: LoadedData, record: Mapping[str, Any]
    ) -> dict[str, Any]:
        ctx.add_line(
            PlanLine(
                step=f"echo on {truth.name}",
                requests=0,
                input_tokens=len(truth.parts["train"]),
                output_tokens=0,
                usd=0.0,
                will_run=True,
                kind="training",
            )
        )
        return {"echo": {"examples": len(truth.parts["train"])}}

    def find(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Mapping[str, Any],
        models: Mapping[str, str | None],
    ) -> str | None:
        return None

    def stand_in(self, ctx: RunContext) -> tuple[str, str | None]:
        return ECHO_MODEL.format(name="planned"), None

    def train(
        self,
        ctx: RunContext,
        truth: PreparedTruth,
        record: Mapping[str, Any],
        models: Mapping[str, str | None],
    ) -> tuple[str | None, dict[str, Any]]:
        path = f"finetune/{truth.name}.echo.json"
        model = ECHO_MODEL.format(name=truth.name)

        def work() -> None:
            write_json_atomic(ctx.out / path, {"fine_tuned_model": model})

        ctx.store.run(f"echo:{truth.name}", stage_key(record["key"], "echo"), [path], work)
        return ctx.read_json(path)["fine_tuned_model"], {"echo": {**record["echo"], "model": model}}

    @classmethod
    def report_lines(cls, record: Mapping[str, Any]) -> list[str]:
        echo = record.get("echo")
        return [f"Echo arm: {echo['examples']} examples, model `{echo.get('model')}`.", ""]


@pytest.fixture
def echo_arm() -> Iterator[type[EchoArm]]:
    register_arm(EchoArm)
    try:
        yield EchoArm
    finally:
        unregister_arm("openai", "echo")


def _answer(body: dict[str, Any]) -> str:
    return "1. Nothing In Particular (2001)"


def test_a_new_arm_is_one_class_and_one_registration(
    echo_arm: type[EchoArm], tmp_path: Path
) -> None:
    assert registered_arms()[-1] is EchoArm
    with LocalOpenAIServer(chat=_answer) as srv:
        config = ExperimentConfig.model_validate(
            {
                "data": SMALL_DATA,
                "truth": {"profileData50": {"n_users": 40, "neighbour_min_rating": 5}},
                "truth_replace": True,
                "n_bootstrap": 10,
                "base_url": srv.base_url,
                "free": True,
                "backends": [
                    {"name": "popularity"},
                    {"name": "openai-fine-tuned", "label": "echo", "arm": "echo"},
                ],
            }
        )
        result = run(config, tmp_path, progress=False)
        ds = result.document.datasets["profileData50"]
        assert [line.step for line in result.plan if line.kind == "training"] == [
            "fine-tune gpt-4o-mini-2024-07-18 on profileData50",
            "echo on profileData50",
        ]
        used = json.loads((tmp_path / "recs/profileData50/echo.config.json").read_text())
        assert used["config"]["model"] == ECHO_MODEL.format(name="profileData50")
        assert ds.finetune["echo"]["examples"] == ds.n_train
        report = (tmp_path / "report.md").read_text()
        assert f"Echo arm: {ds.n_train} examples, model `ft:gpt-4o-mini" in report
        again = run(config, tmp_path, progress=False)
        assert "echo:profileData50" in again.reused and "backend:profileData50:echo" in again.reused


def gold_popularity(ctx: RunContext, truth: PreparedTruth, data: LoadedData) -> dict[str, float]:
    """A toy stage: the mean number of ratings of each test user's gold movies, resumable."""
    import numpy as np

    path = f"extra/{truth.name}.gold_popularity.json"

    def work() -> None:
        ids, counts = np.unique(data.ratings.movie_id, return_counts=True)
        count = dict(zip(ids.tolist(), counts.tolist(), strict=True))
        means = {str(e.user_id): float(np.mean([count[m] for m in e.gold])) for e in truth.test}
        write_json_atomic(ctx.out / path, means)

    ctx.store.run(f"gold-popularity:{truth.name}", stage_key(truth.key, "v1"), [path], work)
    return {user: float(v) for user, v in ctx.read_json(path).items()}


def test_a_new_stage_is_a_function_of_the_context(tmp_path: Path) -> None:
    config = ExperimentConfig.model_validate(
        {
            "data": SMALL_DATA,
            "truth": {"profileData50": {"n_users": 40, "neighbour_min_rating": 5}},
            "truth_replace": True,
        }
    )

    def once() -> tuple[dict[str, float], list[str]]:
        ctx = RunContext(config, tmp_path, StageStore(tmp_path), progress=False)
        data = load_data(ctx)
        truth = prepare_truth(ctx, "profileData50", data.ratings, data.key)
        return gold_popularity(ctx, truth, data), ctx.store.reused

    first, reused = once()
    assert reused == [] and len(first) > 0 and all(v >= 1 for v in first.values())
    second, reused = once()
    assert second == first
    assert reused == ["truth:profileData50", "split:profileData50", "gold-popularity:profileData50"]
