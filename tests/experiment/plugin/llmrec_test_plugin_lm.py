"""A language-model backend that is not built in: the test plugin of the capability protocol.

It is the language-model pipeline with a transport of its own (no HTTP): every request is
answered with the catalog's first ten titles the profile does not hold, plus one invented
title. It prices tokens at its own rate and needs the credential ``PLUGIN_LM_KEY``. Tests
register it through an entry point of a distribution written to a temporary folder, exactly as
an installed third-party package would be found.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmrec.prompts import PromptTemplate
from llmrec.recommenders.capabilities import Credentials
from llmrec.recommenders.llm.pipeline import LanguageModelRecommender
from llmrec.recommenders.llm.transports.base import (
    AnswerCallback,
    ChatAnswer,
    ChatRequest,
    Transport,
)

KEY_ENV = "PLUGIN_LM_KEY"
INVENTED = "The Film That Never Was (2003)"


class PluginLMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "plugin-lm-1"
    usd_per_million_tokens: float = Field(2000.0, ge=0)
    template: PromptTemplate = Field(default_factory=PromptTemplate)
    cache: Path | None = None
    cache_mode: Literal["read_write", "replay_only", "off"] = "read_write"
    resolver_threshold: float = 90.0

    def resolved_cache_path(self) -> Path:
        return self.cache if self.cache is not None else Path("plugin-lm-cache.sqlite")


class CatalogTransport(Transport):
    """Answers from the catalog; counts what it was asked (for the tests)."""

    sent: ClassVar[list[str]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model: str, labels: list[tuple[int, str]], price: float) -> None:
        self._model = model
        self._labels = labels
        self._price = price

    @property
    def endpoint(self) -> str:
        return "plugin-lm://local"

    @property
    def model(self) -> str:
        return self._model

    def build_body(
        self, messages: Sequence[Mapping[str, str]], *, response_format: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {"model": self._model, "messages": [dict(m) for m in messages]}

    def send(
        self, requests: Sequence[ChatRequest], *, on_answer: AnswerCallback | None = None
    ) -> list[ChatAnswer]:
        out = []
        for request in requests:
            with self._lock:
                self.sent.append(request.key)
            own = set(request.profile)
            titles = [label for m, label in self._labels if m not in own][: request.k]
            text = "\n".join(f"{i}. {t}" for i, t in enumerate([*titles, INVENTED], 1))
            pt, ct = 100, 10 * (len(titles) + 1)
            response = {
                "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": pt, "completion_tokens": ct},
            }
            answer = ChatAnswer(response, pt, ct, (pt + ct) * self._price / 1e6, 0.0, 1)
            if on_answer is not None:
                on_answer(request, answer)
            out.append(answer)
        return out


class PluginLM(LanguageModelRecommender):
    name: ClassVar[str] = "plugin-lm"
    config_class: ClassVar[type[BaseModel]] = PluginLMConfig
    config: PluginLMConfig

    def make_transport(self) -> Transport:
        catalog = self._check_fitted()
        labels = [(m.movie_id, m.label()) for m in catalog]
        return CatalogTransport(self.config.model, labels, self.config.usd_per_million_tokens)

    def credentials(self) -> Credentials:
        import os

        return Credentials((KEY_ENV,), bool(os.environ.get(KEY_ENV)), f"set {KEY_ENV}")

    def token_cost(self, input_tokens: int, output_tokens: int) -> float | None:
        return (input_tokens + output_tokens) * self.config.usd_per_million_tokens / 1e6
