"""Shared test set-up: a private cache folder and hypothesis profiles."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

pytest.register_assert_rewrite("llmrec.testing.contract")

# Tests never touch the user's real cache folder.
_CACHE = Path(tempfile.mkdtemp(prefix="llmrec-test-cache-"))
os.environ["LLMREC_CACHE_DIR"] = str(_CACHE)
# No test may reach a real OpenAI endpoint or use a real key.
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# Tests marked ``slow`` (`make test-fast` = `pytest -m "not slow"` leaves them out): end-to-end
# runs, subprocess suites and training. Besides the ``@pytest.mark.slow`` in test files, every
# test under these folders is slow: each trains or loads a local model.
_SLOW_FOLDERS = ("finetune/local/",)
_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            where = item.path.resolve().relative_to(_TESTS).as_posix()
        except ValueError:
            continue
        if where.startswith(_SLOW_FOLDERS):
            item.add_marker(pytest.mark.slow)
