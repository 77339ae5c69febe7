"""What the report and the command line say (issue 26, item 12): each neighbour truth says its
own share of neighbours, the gold's head share is one figure with one definition, the paid steps
print before "Done in", a dry run says why a step is skipped and leaves disabled fine-tuning
out, and the plan, the dry run and the run name a stage the same way."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.experiment import ExperimentConfig, run
from llmrec.experiment.report_truths import summary_section
from llmrec.experiment.results import DatasetResult, Results, Summary
from llmrec.testing import LocalOpenAIServer

DATA = {"kind": "synthetic", "n_users": 800, "n_movies": 200, "n_ratings": 30_000, "seed": 5}
STUDY = {
    "profileData50": {"n_users": 60, "neighbour_min_rating": 5, "watch_factor": 0.5},
    "profileData60": {"n_users": 60, "neighbour_min_rating": 5, "watch_factor": 0.6},
}


def _config(**extra: Any) -> dict[str, Any]:
    return {
        "data": DATA,
        "truth": STUDY,
        "truth_replace": True,
        "n_bootstrap": 20,
        "backends": [{"name": "popularity"}, {"name": "itemknn"}],
        **extra,
    }


def _dataset() -> DatasetResult:
    return DatasetResult(
        truth_stats={},
        n_train=1,
        n_val=1,
        n_test=1,
        finetune={},
        fine_tuned_model=None,
        backends=[],
        metrics={"popularity": {"metrics": {}}},
    )


def test_each_neighbour_truth_says_its_share_of_neighbours() -> None:
    config = json.loads(ExperimentConfig.model_validate(_config()).to_json())
    results = Results(
        config=config,
        datasets={name: _dataset() for name in STUDY},
        summary=Summary(metrics=[], truths=list(STUDY), backends=["popularity"]),
    )
    lines = [line for line in summary_section(results) if line.startswith("- `profileData")]
    assert len(lines) == 2
    fifty, sixty = lines
    assert "at least 50 %" in fifty and "at least 60 %" in sixty
    assert fifty.split(":", 1)[1].replace("50", "60") == sixty.split(":", 1)[1]


def _gold_shares(report: str) -> dict[str, tuple[str, str]]:
    """Per truth table: the share the truth paragraph states and the gold row's head share."""
    out = {}
    for section in report.split("## Table ")[1:]:
        name = section.split(":", 1)[1].split("\n", 1)[0].split(" (")[0].strip()
        stated = re.search(r"Share of gold items in the head \(([^)]*)\)[^:]*: ([\d.]+%)", section)
        row = next(r for r in section.splitlines() if r.startswith("| gold |"))
        assert stated is not None, section[:400]
        out[name] = (stated.group(2), row.strip("|").split("|")[-1].strip())
    return out


def test_the_gold_head_share_is_one_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "study.json"
    config = _config(truth={**STUDY, "last": {"kind": "last_n", "n": 3, "n_users": 60}})
    path.write_text(json.dumps(config))
    out = tmp_path / "out"
    assert main(["reproduce", str(path), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    shares = _gold_shares((out / "report.md").read_text())
    assert set(shares) == {"profileData50", "profileData60", "last"}
    results = Results.from_json_dict(json.loads((out / "results.json").read_text()))
    for name, (stated, row) in shares.items():
        assert stated == row  # the paragraph and the beyond-accuracy table agree
        gold = (results.datasets[name].beyond_accuracy or {})["gold"]
        assert gold.head_share is not None and stated == f"{gold.head_share:.1%}"
        # the terminal says the same figure with the same definition
        assert f"({stated} of gold items among the 100 most-rated movies of the fitting" in (
            printed
        )
    # fine-tuning is off: its file's cost is what it would cost, not a step of this run
    truth_lines = [line for line in printed.splitlines() if "users with gold" in line]
    assert len(truth_lines) == 3
    assert all("USD (fine-tuning is off) for 2 epochs" in line for line in truth_lines)
    # the paid steps come before the run's last line
    assert printed.index("Paid steps") < printed.index("Done in")
    assert printed.rstrip().splitlines()[-1].startswith("Done in")


def test_a_dry_run_says_why_and_leaves_disabled_fine_tuning_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    path = tmp_path / "study.json"
    backends = [{"name": "popularity"}, {"name": "openai-zero-shot", "label": "zero-shot"}]
    path.write_text(json.dumps(_config(backends=backends)))
    args = ["reproduce", str(path), "--out", str(tmp_path / "dry"), "--dry-run", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    steps = [line for line in printed.splitlines() if line.startswith("  - ")]
    assert len(steps) == 2 and all("zero-shot on profileData" in s for s in steps)
    for step in steps:
        assert "(skipped: no OPENAI_API_KEY" in step, step
    assert not any("fine-tune" in s for s in steps)
    assert printed.count("fine-tuning is off (finetune.enabled = false)") == 1


def test_the_plan_the_dry_run_and_the_run_name_stages_alike(tmp_path: Path) -> None:
    truths = {
        "a": STUDY["profileData50"],
        "last": {"kind": "last_n", "n": 3, "n_users": 60, "ranking": "candidates"},
    }
    backends = [{"name": "popularity"}, {"name": "openai-zero-shot", "label": "zero-shot"}]
    with LocalOpenAIServer() as srv:
        cfg = ExperimentConfig.model_validate(
            _config(truth=truths, backends=backends, base_url=srv.base_url, free=True)
        )
        dry = run(cfg, tmp_path / "dry", progress=False, dry_run=True)
        real = run(cfg, tmp_path / "out", progress=False)
    performed = [s for s in real.ran if s.split(":")[0] in ("backend", "rank")]
    assert sorted(dry.planned) == sorted(performed)
    assert {"backend:a:zero-shot", "rank:last:zero-shot", "rank:last:popularity"} <= set(
        dry.planned
    )
    requests = [line for line in dry.plan if line.kind == "inference"]
    assert len(requests) == 2
    for line in requests:
        assert line.stage in performed
        assert str(line).endswith(f"(will run); stage {line.stage}")
    saved = json.loads((tmp_path / "out" / "results.json").read_text())["plan"]
    assert sorted(p["stage"] for p in saved if p["kind"] == "inference") == sorted(
        line.stage for line in requests
    )
