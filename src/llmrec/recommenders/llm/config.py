"""The settings every language-model backend shares, whatever carries its requests.

:class:`LanguageModelConfig` holds what the pipeline
(:class:`~llmrec.recommenders.llm.pipeline.LanguageModelRecommender`) reads from any backend:
the prompt template, the response cache and the title resolver's cut-off. A backend's config
subclasses it and adds its own fields (the OpenAI backends' server, sampling and retries; the
transformers backend's device, dtype and batching); unknown fields are rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llmrec._paths import cache_dir
from llmrec.prompts import PromptTemplate

__all__ = ["LanguageModelConfig", "default_cache_path"]


def default_cache_path() -> Path:
    """``<user cache folder>/llmrec/llm/responses.sqlite`` (``LLMREC_CACHE_DIR`` overrides)."""
    return cache_dir("llm", "responses.sqlite")


class LanguageModelConfig(BaseModel):
    """Fields shared by every language-model backend's config (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    cache: Path | None = Field(
        None,
        description="Response cache file (sqlite); default <user cache>/llmrec/llm/"
        "responses.sqlite.",
    )
    cache_mode: Literal["read_write", "replay_only", "off"] = Field(
        "read_write",
        description="read_write: serve hits, store answers; replay_only: never send a request "
        "or generate, fail on a miss; off: no cache.",
    )
    template: PromptTemplate = Field(
        default_factory=PromptTemplate, description="Prompt template (default: the study's)."
    )
    resolver_threshold: float = Field(
        90.0,
        ge=0.0,
        le=100.0,
        description="Fuzzy-match cut-off (rapidfuzz ratio, 0-100) for resolving written titles.",
    )

    def resolved_cache_path(self) -> Path:
        """``cache``, else :func:`default_cache_path`."""
        return self.cache if self.cache is not None else default_cache_path()
