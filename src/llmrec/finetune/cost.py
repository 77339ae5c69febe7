"""What a fine-tuning job and an evaluation run will cost, from exact token counts.

Training (OpenAI's billing for fine-tuning)::

    usd = training-file tokens × n_epochs × training price per 1M tokens / 1e6

is priced by each file format (:meth:`llmrec.finetune.formats.FileFormat.estimate_cost`);
:func:`estimate_training_cost` (chat files) and :class:`TrainingCostEstimate` are re-exported
here from :mod:`llmrec.finetune.formats`.

Inference::

    usd = (input tokens × input price + output tokens × output price) / 1e6   (× 0.5 with Batch)

Input tokens are exact; output tokens are not known before the model answers, so they are
``n_requests × output_tokens_per_request``, by default the one rule of
:func:`llmrec.openai_api.cost.expected_output_tokens` (a ten-item list in the study's output
format). :func:`estimate_inference_cost` is a thin wrapper of
:func:`llmrec.openai_api.cost.estimate_chat_cost`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmrec.finetune.formats.chat import estimate_training_cost
from llmrec.finetune.formats.results import TrainingCostEstimate
from llmrec.openai_api.cost import estimate_chat_cost, expected_output_tokens
from llmrec.openai_api.models import DEFAULT_MODEL
from llmrec.openai_api.prices import PRICES, PriceTable, price_for

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "InferenceCostEstimate",
    "TrainingCostEstimate",
    "estimate_inference_cost",
    "estimate_training_cost",
]

DEFAULT_OUTPUT_TOKENS = 80
"""Deprecated: no longer the default (see :func:`estimate_inference_cost`); kept for one release."""


@dataclass(frozen=True)
class InferenceCostEstimate:
    """Token counts and price of sending a set of prompts to a model."""

    model: str
    n_requests: int
    input_tokens: int
    output_tokens: int
    batch: bool
    usd: float
    prices_as_of: str

    def __str__(self) -> str:
        api = "Batch API" if self.batch else "standard API"
        return (
            f"{self.n_requests:,} requests to {self.model} ({api}): {self.input_tokens:,} input "
            f"+ {self.output_tokens:,} output tokens (estimated) = {self.usd:.2f} USD "
            f"(prices of {self.prices_as_of})"
        )


def estimate_inference_cost(
    prompts: Iterable[Sequence[Mapping[str, Any]]],
    *,
    model: str = DEFAULT_MODEL,
    output_tokens_per_request: int | None = None,
    batch: bool = False,
    prices: PriceTable | None = None,
) -> InferenceCostEstimate:
    """Price one request per chat prompt (a list of messages) to ``model``.

    Fine-tuned ids (``ft:BASE:org::id``) use the fine-tuned price row. Output tokens per
    request default to :func:`~llmrec.openai_api.cost.expected_output_tokens` for ten items in
    the study's format. Raises :class:`~llmrec.errors.ConfigError` for a model without a price.
    """
    per_request = (
        expected_output_tokens(10)
        if output_tokens_per_request is None
        else output_tokens_per_request
    )
    table = PRICES if prices is None else prices
    est = estimate_chat_cost(
        prompts, model=model, output_tokens_per_request=per_request, batch=batch, prices=table
    )
    if est.usd is None:
        price_for(model, table)  # raises, naming the known models
    return InferenceCostEstimate(
        model=est.model,
        n_requests=est.n_requests,
        input_tokens=est.input_tokens,
        output_tokens=est.output_tokens,
        batch=est.batch,
        usd=float(est.usd or 0.0),
        prices_as_of=est.prices_as_of,
    )
