"""Fixtures: a local OpenAI-compatible server and an official SDK client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from llmrec.testing import LocalOpenAIServer


@pytest.fixture
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(fine_tune_step_seconds=0.03, batch_step_seconds=0.03) as srv:
        yield srv


@pytest.fixture
def client(server: LocalOpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=3) as c:
        yield c
