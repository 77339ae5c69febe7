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
# runs, subprocess suites and training, each over 20 s on a loaded 2-core machine. Besides the
# ``@pytest.mark.slow`` in test files: every test under these folders (each trains or loads a
# local model), and these whole-experiment runs.
_SLOW_FOLDERS = ("finetune/local/",)
_SLOW_TESTS = {
    "experiment/test_reproduce.py": {
        "test_reproduce_end_to_end_with_llm_backends",
        "test_killed_run_resumes_from_finished_stages",
        "test_without_key_llm_backends_are_skipped_with_their_cost",
    },
    "experiment/test_candidate_ranking.py": {
        "test_full_leaves_results_unchanged",
        "test_metrics_equal_a_brute_force_recomputation",
        "test_the_budget_covers_the_ranking_requests",
        "test_language_model_ranking_is_planned_and_sent_once",
    },
    "experiment/test_budget.py": {"test_the_budget_is_for_the_whole_run_not_per_step"},
}
_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            where = item.path.resolve().relative_to(_TESTS).as_posix()
        except ValueError:
            continue
        name = getattr(item, "originalname", item.name)
        if where.startswith(_SLOW_FOLDERS) or name in _SLOW_TESTS.get(where, ()):
            item.add_marker(pytest.mark.slow)
