"""``[probe]``: the memorisation probe as a stage of ``llmrec reproduce``, end to end against
``LocalOpenAIServer`` (official SDK, real HTTP): planned and budgeted before anything is sent,
run for every zero-shot language-model backend, answers cached, saved under the output folder,
and shown in the report beside the zero-shot rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmrec.data import netflix
from llmrec.data.synthetic import ensure_synthetic
from llmrec.errors import BudgetExceededError
from llmrec.experiment import ExperimentConfig, run
from llmrec.experiment.config import ProbeStage
from llmrec.experiment.report import render_text
from llmrec.probes import MemorisationReport
from llmrec.testing import LocalOpenAIServer

DATA = {"kind": "synthetic", "n_users": 300, "n_movies": 120, "n_ratings": 6_000, "seed": 4}
PROBE = {"max_items": 30, "seed": 1, "calibrate": True, "calibration_movies": 40}
CHAT = "/chat/completions"


def _answers(tmp: Path) -> dict[str, str]:
    """Probe prompt -> correct answer, from the probe's own chat file on the run's catalog."""
    folder = ensure_synthetic(n_users=300, n_movies=120, n_ratings=6_000, seed=4, progress=False)
    ratings = netflix.load_ratings(folder)
    catalog = netflix.load_titles(folder / "movie_titles.csv")
    path = ProbeStage(**PROBE).probe().write_chat(catalog, tmp / "chat.jsonl", ratings)
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        out[messages[1]["content"]] = messages[2]["content"]
    return out


def _config(base_url: str, **extra: Any) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "data": DATA,
            "truth": {"last": {"kind": "last_n", "n": 2, "n_users": 20}},
            "truth_replace": True,
            "metrics": ["precision@5"],
            "n_bootstrap": 10,
            "base_url": base_url,
            "backends": [
                {"name": "popularity"},
                {"name": "openai-zero-shot", "label": "zero-shot"},
                {"name": "openai-fine-tuned", "label": "fine-tuned"},
            ],
            "probe": PROBE,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("probe_stage")
    correct = _answers(tmp)
    right = sorted(correct)[::3]  # every third probe answered correctly, the rest not

    def chat(body: dict[str, Any]) -> str:
        user = body["messages"][-1]["content"]
        if user in right:
            return correct[user]
        if user in correct:
            return "I do not remember that line."
        return "1. Nothing Like It (1901)"  # a recommendation prompt

    out = tmp / "out"
    with LocalOpenAIServer(chat=chat) as server:
        first = run(_config(server.base_url, free=True), out, progress=False)
        sent = sum(r.path.endswith(CHAT) for r in server.requests)
        server.clear_requests()
        again = run(_config(server.base_url, free=True), out, progress=False)
        resent = sum(r.path.endswith(CHAT) for r in server.requests)
    return out, first, again, sent, resent, len(right) / len(correct)


def test_the_probe_reports_exactly_the_fraction_answered(finished: Any) -> None:
    out, first, _, _, _, fraction = finished
    probes = first.document.probes
    assert probes is not None and set(probes) == {"zero-shot"}  # not the fine-tuned arm
    result = probes["zero-shot"]
    assert result.recall == pytest.approx(fraction)
    saved = MemorisationReport.load(out / "probes" / "zero-shot.json")
    assert len(saved.rows) == 30 and saved.recall == pytest.approx(fraction)
    assert sum(b.n for b in saved.by_bucket.values()) == saved.total.n
    assert result.calibration_recall == 0.0  # nothing of the synthetic catalog was answered
    assert (out / "probes" / "zero-shot.calibration.json").is_file()
    doc = json.loads((out / "results.json").read_text())
    assert doc["probes"]["zero-shot"]["file"] == "probes/zero-shot.json"


def test_the_probe_is_in_the_plan_and_asked_once(finished: Any) -> None:
    out, first, again, sent, resent, _ = finished
    steps = [line.step for line in first.plan]
    assert any(
        s.startswith("memorisation probe of zero-shot (item_lines, 30 requests") for s in steps
    )
    assert any(
        s.startswith("memorisation probe calibration (synthetic catalog) of zero-shot")
        for s in steps
    )
    floor = MemorisationReport.load(out / "probes" / "zero-shot.calibration.json")
    n_test = first.results["datasets"]["last"]["n_test"]
    assert 0 < len(floor.rows) <= 40
    assert sent == 30 + len(floor.rows) + n_test  # each probe once, plus the recommendations
    assert resent == 0 and again.ran == [] and "probe:zero-shot" in again.reused


def test_the_report_shows_the_probe_beside_the_zero_shot_rows(finished: Any) -> None:
    out, first, _, _, _, fraction = finished
    config = ExperimentConfig.model_validate(first.results["config"])
    text = render_text(first.document, config)
    assert "Memorisation probe:" in text and "zero-shot (synthetic floor)" in text
    report = (out / "report.md").read_text()
    assert "## Memorisation probe" in report
    assert "| zero-shot | item_lines |" in report
    assert "| zero-shot (synthetic floor) | item_lines |" in report
    assert (
        f"Memorisation probe recall beside these rows: zero-shot {fraction:.1%} (floor 0.0%)"
        in report
    )


def test_the_budget_covers_the_probe_before_anything_is_sent(tmp_path: Path) -> None:
    with LocalOpenAIServer(chat=lambda body: "nothing") as server:
        config = _config(
            server.base_url,
            backends=[{"name": "openai-zero-shot", "label": "zero-shot"}],
            baseline="openai-zero-shot",
            budget_usd=1e-9,
            probe={**PROBE, "max_items": None},
        )
        with pytest.raises(BudgetExceededError):
            run(config, tmp_path / "out", progress=False)
        assert not any(r.path.endswith(CHAT) for r in server.requests)


def test_a_config_without_probe_has_no_trace_of_it() -> None:
    assert "probe" not in json.loads(ExperimentConfig().to_json())
    with pytest.raises(ValueError, match="calibrat"):
        ExperimentConfig.model_validate({"probe": {"calibrated": True}})


def test_a_dry_run_lists_the_probe_and_sends_nothing(tmp_path: Path) -> None:
    with LocalOpenAIServer(chat=lambda body: "nothing") as server:
        result = run(_config(server.base_url, free=True), tmp_path / "out", dry_run=True)
        assert not any(r.path.endswith(CHAT) for r in server.requests)
    probe_lines = [line for line in result.plan if line.step.startswith("memorisation probe")]
    assert probe_lines[0].requests == 30
    assert len(probe_lines) == 2 and not (tmp_path / "out" / "probes").exists()
    probes = result.document.probes
    assert probes is not None and probes["zero-shot"].planned and probes["zero-shot"].file is None
