"""A plugin language-model backend (defined in tests/, not built in) is priced, budget-stopped,
skipped without its credential and reported by ``llmrec reproduce`` like the OpenAI backend."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmrec.cli import main
from llmrec.errors import BudgetExceededError
from llmrec.experiment import ExperimentConfig, run
from llmrec.recommenders import available_recommenders, get_recommender
from llmrec.recommenders.capabilities import LanguageModelBackend

PLUGIN_DIR = Path(__file__).parent / "plugin"
SMALL_DATA = {"kind": "synthetic", "n_users": 600, "n_movies": 120, "n_ratings": 20_000, "seed": 5}


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Install the plugin as a distribution with an entry point, in a folder on sys.path."""
    site = tmp_path / "site"
    info = site / "llmrec_test_plugin_lm-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: llmrec-test-plugin-lm\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[llmrec.recommenders]\nplugin-lm = llmrec_test_plugin_lm:PluginLM\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    importlib.invalidate_caches()
    module = importlib.import_module("llmrec_test_plugin_lm")
    module.CatalogTransport.sent.clear()
    yield module
    sys.modules.pop("llmrec_test_plugin_lm", None)


def _config(**extra: Any) -> dict[str, Any]:
    return {
        "data": SMALL_DATA,
        "truth": {"profileData50": {"n_users": 60, "neighbour_min_rating": 5}},
        "truth_replace": True,
        "n_bootstrap": 50,
        "backends": [{"name": "popularity"}, {"name": "plugin-lm", "label": "plugin"}],
        "finetune": {"enabled": False},
        **extra,
    }


def test_the_plugin_is_found_and_implements_the_protocol(plugin: Any) -> None:
    assert "plugin-lm" in available_recommenders()
    rec = get_recommender("plugin-lm")
    assert isinstance(rec, LanguageModelBackend)
    assert rec.model_id == "plugin-lm-1"
    assert rec.with_model("plugin-lm-2").model_id == "plugin-lm-2"


def test_dry_run_prices_the_plugin(
    plugin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(plugin.KEY_ENV, "secret")
    cfg_path = tmp_path / "study.json"
    cfg_path.write_text(json.dumps(_config()))
    assert main(["reproduce", str(cfg_path), "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    steps = [line for line in printed.splitlines() if line.startswith("  - plugin ")]
    assert len(steps) == 1 and steps[0].startswith("  - plugin on profileData50")
    assert re.search(
        r"[\d,]+ requests, [\d,]+ input \+ [\d,]+ output tokens, \d+\.\d{4} USD", steps[0]
    )
    assert "(will run)" in steps[0]
    result = run(ExperimentConfig.model_validate(_config()), tmp_path / "p", dry_run=True)
    (line,) = [line for line in result.plan if line.kind == "inference"]
    assert line.usd == pytest.approx((line.input_tokens + line.output_tokens) * 2000 / 1e6)
    assert line.usd > 0 and line.requests == result.results["datasets"]["profileData50"]["n_test"]
    assert plugin.CatalogTransport.sent == []


def test_the_budget_stops_the_plugin_before_it_runs(
    plugin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.KEY_ENV, "secret")
    cfg = ExperimentConfig.model_validate(_config(budget_usd=0.0001))
    with pytest.raises(BudgetExceededError, match=r"plugin on profileData50 .*: \d+\.\d+ USD"):
        run(cfg, tmp_path / "b", progress=False)
    assert plugin.CatalogTransport.sent == []


def test_without_its_credential_the_plugin_is_skipped_with_its_cost(
    plugin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(plugin.KEY_ENV, raising=False)
    result = run(ExperimentConfig.model_validate(_config()), tmp_path / "s", progress=False)
    (entry,) = [e for e in result.results["datasets"]["profileData50"]["backends"] if e["llm"]]
    assert "PLUGIN_LM_KEY" in entry["skipped"]
    assert entry["estimated_cost_usd"] > 0
    assert "`plugin` skipped" in (tmp_path / "s" / "report.md").read_text()
    assert plugin.CatalogTransport.sent == []


def test_the_plugin_runs_and_is_reported(
    plugin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.KEY_ENV, "secret")
    out = tmp_path / "r"
    cfg_path = tmp_path / "study.json"
    cfg_path.write_text(json.dumps(_config(budget_usd=100.0)))
    assert main(["reproduce", str(cfg_path), "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    ds = results["datasets"]["profileData50"]
    assert set(ds["metrics"]) == {"popularity", "plugin"}
    diag = ds["llm_diagnostics"]["plugin"]
    assert diag["responses"] == ds["n_test"]
    assert diag["hallucination_rate"] == pytest.approx(1 / 11)
    assert diag["cost_usd"] == pytest.approx(ds["n_test"] * (100 + 110) * 2000 / 1e6)
    assert len(set(plugin.CatalogTransport.sent)) == len(plugin.CatalogTransport.sent) > 0
    report = (out / "report.md").read_text()
    diagnostics = report.split("Language-model diagnostics:")[1]
    row = next(r for r in diagnostics.splitlines() if r.startswith("| plugin"))
    assert "| 9.1% |" in row
    # the answers were cached by the pipeline: a rerun sends nothing
    plugin.CatalogTransport.sent.clear()
    again = run(ExperimentConfig.model_validate(_config(budget_usd=100.0)), out, progress=False)
    assert again.ran == [] and plugin.CatalogTransport.sent == []
