"""Settings of the ``openai`` backend.

:class:`OpenAIConfig` holds every option (model, server, sampling, concurrency, retries, cache,
Batch API, prompt template, resolver cut-off). The API key is resolved late, when the first
request is actually needed, by the one rule of :mod:`llmrec.openai_api.keys` (``api_key``, else
``OPENAI_API_KEY``); it is never dumped with the config.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_serializer, field_validator

from llmrec.openai_api.client import resolved_base_url
from llmrec.openai_api.keys import KEY_HELP, redact
from llmrec.openai_api.models import CHAT_PATH, DEFAULT_MODEL, OPENAI_BASE_URL
from llmrec.openai_api.prices import ModelPrice
from llmrec.openai_api.redact import ApiKey, mask_url, secret_url
from llmrec.recommenders.llm.config import LanguageModelConfig, default_cache_path

__all__ = [
    "CHAT_PATH",
    "DEFAULT_MODEL",
    "KEY_HELP",
    "OPENAI_BASE_URL",
    "OpenAIConfig",
    "default_cache_path",
    "redact",
]


class OpenAIConfig(LanguageModelConfig):
    """Settings of the ``openai`` backend. ``api_key`` is never dumped, shown or cached.

    The cache, template and resolver fields come from
    :class:`~llmrec.recommenders.llm.config.LanguageModelConfig`."""

    model: str = Field(
        DEFAULT_MODEL,
        min_length=1,
        description="Chat model id; a fine-tuned model is 'ft:BASE:org::id'.",
    )
    base_url: str | None = Field(
        None,
        description="OpenAI-compatible API root, e.g. 'http://localhost:8000/v1' for vLLM; "
        "default: $OPENAI_BASE_URL, else https://api.openai.com/v1.",
    )
    api_key: SecretStr | None = Field(
        None,
        exclude=True,
        repr=False,
        description="API key; default $OPENAI_API_KEY, read when the first request is sent.",
    )
    api_key_optional: bool = Field(
        False,
        description="The server takes requests without an API key (a local server): no key "
        "found is not an error.",
    )
    free: bool = Field(
        False,
        description="The server bills nothing (your own vLLM, Ollama or llama.cpp): every "
        "request costs 0 USD, whatever the price table says.",
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Prices (USD per 1M tokens) merged over the default table, by model id; "
        "a model without a price costs an unknown amount.",
    )
    fail_fast: bool = Field(
        False,
        description="A request that still fails after every retry stops the run; by default "
        "it is recorded as a failed answer (an empty list) and asked again by the next run.",
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    seed: int | None = Field(None, description="Sampling seed sent to the API (best effort).")
    max_tokens: int | None = Field(
        400, ge=1, description="Cap on completion tokens per answer (None: server default)."
    )
    structured_output: bool = Field(
        False,
        description="Send the template's JSON schema as response_format (needs a template "
        "with output_format='json').",
    )
    max_concurrency: int = Field(8, ge=1, le=1024, description="Requests in flight at once.")
    timeout: float = Field(60.0, gt=0.0, description="Seconds before one request times out.")
    max_retries: int = Field(
        6, ge=0, le=100, description="Retries of a request after 429, 5xx, timeout or drop."
    )
    backoff_base: float = Field(
        0.5, ge=0.0, description="First backoff in seconds when the server gives no Retry-After."
    )
    backoff_max: float = Field(30.0, ge=0.0, description="Longest backoff in seconds.")
    batch: bool = Field(
        False, description="recommend_many goes through the Batch API (half price, slow)."
    )
    batch_poll_interval: float = Field(
        30.0, gt=0.0, description="Seconds between status checks of a running batch."
    )
    batch_dir: Path | None = Field(
        None,
        description="Folder for batch input files and state (default: beside the cache).",
    )

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url must start with http:// or https://, got {mask_url(value)!r}"
            )
        return secret_url(value)

    @field_validator("api_key")
    @classmethod
    def _keep_key_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or isinstance(value, ApiKey):
            return value
        return ApiKey(value.get_secret_value())

    @field_serializer("base_url")
    def _hide_url_password(self, value: str | None) -> str | None:
        return None if value is None else mask_url(value)

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [
            (k, mask_url(v) if k == "base_url" and isinstance(v, str) else v)
            for k, v in super().__repr_args__()
        ]

    def resolved_base_url(self) -> str:
        """``base_url``, else ``$OPENAI_BASE_URL``, else the OpenAI API root (no trailing /)."""
        return resolved_base_url(self.base_url)
