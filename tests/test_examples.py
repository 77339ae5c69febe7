"""Every example script runs, on small synthetic data, and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

EXPECTED = {
    "quickstart.py": ["precision@3", "users evaluated:"],
    "compare_baselines.py": ["registered backends:", "ease against popularity", "wilcoxon p"],
    "llm_local_server.py": ["rerun: 0 requests", "'n_unresolved': 1"],
    "finetune_local.py": ["ok=True", ": succeeded; model ft:gpt-4o-mini"],
    "finetune_open_weights.py": ["succeeded:", "test users, constrained:", "hallucinated 0.0%"],
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, tmp_path: Path) -> None:
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for needle in EXPECTED[name]:
        assert needle in proc.stdout, f"{needle!r} not in the output of {name}"


def test_study_config_loads_and_plans(tmp_path: Path) -> None:
    from llmrec.experiment import ExperimentConfig

    config = ExperimentConfig.from_file(EXAMPLES / "study.toml")
    assert [b.name for b in config.backends] == [
        "popularity",
        "itemknn",
        "ease",
        "openai-zero-shot",
        "openai-fine-tuned",
    ]
    assert config.finetune.batch_size == 32 and config.finetune.n_epochs == 2
    assert {name: t.kind for name, t in config.truth.items()} == {
        "profileData50": "neighbour",
        "profileData60": "neighbour",
        "probe": "probe",
        "last10": "last_n",
        "recent": "time_split",
    }
    assert config.truth["profileData60"].neighbour_min_rating == 4  # type: ignore[union-attr]
