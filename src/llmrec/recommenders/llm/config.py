"""The settings every language-model backend shares, whatever carries its requests.

:class:`LanguageModelConfig` holds what the pipeline
(:class:`~llmrec.recommenders.llm.pipeline.LanguageModelRecommender`) reads from any backend:
the prompt template, the response cache, the title resolver's cut-off, and how a candidate set
is ranked (``ranking``: by the generated answer, or by each candidate's likelihood as the
answer, see :mod:`llmrec.recommenders.llm.likelihood_ranking`). A backend's config
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

    ranking: Literal["generate", "likelihood"] = Field(
        "generate",
        description="How rank_many orders candidates: 'generate' asks the model to write the "
        "ranking; 'likelihood' orders them by each one's log-probability as the answer (a full "
        "permutation by construction; needs a backend that reads log-probabilities).",
    )
    length_normalised: bool = Field(
        False,
        description="With ranking='likelihood': divide each candidate's log-probability by its "
        "token count (else the sum).",
    )

    def resolved_cache_path(self) -> Path:
        """``cache``, else :func:`default_cache_path`."""
        return self.cache if self.cache is not None else default_cache_path()
