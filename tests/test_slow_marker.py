"""`make test-fast` (`pytest -m "not slow"`) leaves out training and whole-experiment runs, and
keeps the quick tests of the same files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _collected(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode in (0, 5), proc.stdout[-2000:] + proc.stderr[-2000:]
    return {line.strip() for line in proc.stdout.splitlines() if "::" in line}


@pytest.mark.slow  # three collections that import torch
def test_the_fast_selection_leaves_out_training_and_whole_experiments() -> None:
    paths = ["tests/finetune/local/test_errors.py", "tests/experiment/test_reproduce.py"]
    everything = _collected(*paths)
    fast = _collected("-m", "not slow", *paths)
    slow = _collected("-m", "slow", *paths)
    assert fast | slow == everything and not fast & slow
    assert not any(t.startswith("tests/finetune/local/") for t in fast)
    assert any(t.startswith("tests/finetune/local/") for t in slow)
    end_to_end = "tests/experiment/test_reproduce.py::test_reproduce_end_to_end_with_llm_backends"
    assert end_to_end in slow
    assert any(t.startswith("tests/experiment/test_reproduce.py::") for t in fast)
