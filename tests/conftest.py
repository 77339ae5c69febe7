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
