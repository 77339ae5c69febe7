"""Configs that worked before keep working: every experiment config under ``examples/`` and in
the tests' fixtures loads, validates (every backend built, every metric parsed, every arm
checked) and survives a round trip through its JSON dump unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.experiment import ExperimentConfig
from llmrec.experiment.validate import problems

ROOT = Path(__file__).resolve().parents[2]
TOML = sorted(p for p in (ROOT / "examples").rglob("*.toml") if p.name != "pyproject.toml")
FIXTURES = sorted((ROOT / "tests").rglob("fixtures/*.json"))


def _fixture_configs() -> list[tuple[str, dict[str, object]]]:
    found = []
    for path in FIXTURES:
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and isinstance(document.get("config"), dict):
            found.append((str(path.relative_to(ROOT)), document["config"]))
    return found


def test_there_are_configs_to_check() -> None:
    assert [p.name for p in TOML] == ["study.toml"]
    assert [name for name, _ in _fixture_configs()] == [
        "tests/experiment/fixtures/results-0.1.json"
    ]


@pytest.mark.parametrize("path", TOML, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_config_loads_and_validates(path: Path) -> None:
    config = ExperimentConfig.from_file(path)
    assert problems(config) == []
    assert ExperimentConfig.model_validate_json(config.to_json()) == config


@pytest.mark.parametrize(("name", "raw"), _fixture_configs(), ids=lambda v: str(v)[:40])
def test_every_fixture_config_loads_and_validates(name: str, raw: dict[str, object]) -> None:
    config = ExperimentConfig.model_validate(raw)
    assert problems(config) == []
    assert ExperimentConfig.model_validate_json(config.to_json()) == config


def test_the_dump_has_no_trace_of_arms_a_config_does_not_use() -> None:
    """``config.json`` of a config without ``arm`` or ``[finetune.dpo]`` is what it was before
    they existed; with them, they are written."""
    dumped = json.loads(ExperimentConfig().to_json())
    assert all("arm" not in b for b in dumped["backends"]) and "dpo" not in dumped["finetune"]
    config = ExperimentConfig.model_validate(
        {
            "backends": [{"name": "openai-fine-tuned", "arm": "dpo"}],
            "baseline": "openai-fine-tuned",
            "finetune": {"dpo": {"beta": 0.1}},
        }
    )
    dumped = json.loads(config.to_json())
    assert dumped["backends"][0]["arm"] == "dpo" and dumped["finetune"]["dpo"]["beta"] == 0.1
    assert ExperimentConfig.model_validate(dumped) == config
