"""OpenAI prices in one table, with the date they were read; users pass their own to override.

All prices are USD per 1,000,000 tokens, read from https://openai.com/api/pricing on the date in
:data:`PRICES_AS_OF`. Fine-tuned models (``ft:BASE:org::id``) use the ``ft:BASE`` row. The
Batch API halves inference prices (:data:`BATCH_DISCOUNT`); training is never discounted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from llmrec.errors import ConfigError
from llmrec.openai_api.models import DEFAULT_MODEL, fine_tuned_family

__all__ = [
    "BATCH_DISCOUNT",
    "PRICES",
    "PRICES_AS_OF",
    "ModelPrice",
    "PriceTable",
    "inference_cost",
    "merge_prices",
    "price_for",
    "training_price",
]

PRICES_AS_OF = "2026-11-27"
"""Date the default prices were read."""

BATCH_DISCOUNT = 0.5
"""Fraction of the normal inference price that the Batch API charges."""


class ModelPrice(BaseModel):
    """Prices of one model in USD per 1M tokens; ``training`` is ``None`` if not fine-tunable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0, description="USD per 1M input (prompt) tokens.")
    output: float = Field(ge=0, description="USD per 1M output (completion) tokens.")
    training: float | None = Field(
        default=None, ge=0, description="USD per 1M training tokens (tokens × epochs)."
    )


class PriceTable(BaseModel):
    """Model name → :class:`ModelPrice`, with the date the prices were read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: str = Field(description="Date (YYYY-MM-DD) the prices were read.")
    models: dict[str, ModelPrice] = Field(description="Prices per model name.")


PRICES = PriceTable(
    as_of=PRICES_AS_OF,
    models={
        DEFAULT_MODEL: ModelPrice(input=0.15, output=0.60, training=3.00),
        fine_tuned_family(DEFAULT_MODEL): ModelPrice(input=0.30, output=1.20),
        # the models OpenAI fine-tunes with DPO (llmrec.finetune.dpo_models)
        "gpt-4.1-2025-04-14": ModelPrice(input=2.00, output=8.00, training=25.00),
        "ft:gpt-4.1-2025-04-14": ModelPrice(input=3.00, output=12.00),
        "gpt-4.1-mini-2025-04-14": ModelPrice(input=0.40, output=1.60, training=5.00),
        "ft:gpt-4.1-mini-2025-04-14": ModelPrice(input=0.80, output=3.20),
        "gpt-4.1-nano-2025-04-14": ModelPrice(input=0.10, output=0.40, training=1.50),
        "ft:gpt-4.1-nano-2025-04-14": ModelPrice(input=0.20, output=0.80),
    },
)
"""The default table: GPT-4o-mini as used by the study, base and fine-tuned, and the gpt-4.1
family that OpenAI fine-tunes with DPO."""

_ALIASES: Mapping[str, str] = {"gpt-4o-mini": DEFAULT_MODEL}


def merge_prices(
    extra: Mapping[str, ModelPrice] | None, base: PriceTable | None = None
) -> PriceTable:
    """``base`` (default :data:`PRICES`) with the rows of ``extra`` added or replacing its own.

    This is how prices written in a config (``[prices."MODEL"]`` in an experiment's TOML, or a
    backend's ``prices`` option) reach every estimate; the date stays the default table's.
    """
    table = PRICES if base is None else base
    if not extra:
        return table
    return PriceTable(as_of=table.as_of, models={**table.models, **dict(extra)})


def _lookup_key(model: str) -> str:
    """``ft:BASE:org:suffix:id`` → ``ft:BASE`` (aliases such as ``gpt-4o-mini`` resolved)."""
    if model.startswith("ft:"):
        parts = model.split(":")
        base = _ALIASES.get(parts[1], parts[1]) if len(parts) > 1 else ""
        return f"ft:{base}"
    return _ALIASES.get(model, model)


def price_for(model: str, prices: PriceTable | None = None) -> ModelPrice:
    """The price row for ``model``; fine-tuned model ids map to their ``ft:BASE`` row.

    Raises :class:`~llmrec.errors.ConfigError` naming the known models when there is no row.
    """
    table = PRICES if prices is None else prices
    key = _lookup_key(model)
    row = table.models.get(model) or table.models.get(key)
    if row is None:
        raise ConfigError(
            f"no price for model {model!r} (looked up {key!r}) in the table of {table.as_of}; "
            f"known: {sorted(table.models)}. Add it: `[prices.{json.dumps(model)}]` with input "
            "and output (USD per 1M tokens) in an experiment config, `prices` in a backend's "
            "config, or prices=PriceTable(...) in Python; a server that bills nothing is "
            "`free = true`."
        )
    return row


def inference_cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    *,
    batch: bool = False,
    prices: PriceTable | None = None,
) -> float:
    """USD for ``input_tokens`` in and ``output_tokens`` out; halved with ``batch=True``.

    ``cost = (input_tokens × input + output_tokens × output) / 1e6 × (0.5 if batch else 1)``
    """
    if input_tokens < 0 or output_tokens < 0:
        raise ConfigError(f"token counts must be >= 0, got {input_tokens} and {output_tokens}")
    row = price_for(model, prices)
    usd = (input_tokens * row.input + output_tokens * row.output) / 1e6
    return usd * (BATCH_DISCOUNT if batch else 1.0)


def training_price(model: str, prices: PriceTable | None = None) -> float:
    """USD per 1M training tokens for ``model``; ``ConfigError`` if it cannot be fine-tuned."""
    row = price_for(model, prices)
    if row.training is None:
        raise ConfigError(f"the price table has no training price for {model!r}")
    return row.training
