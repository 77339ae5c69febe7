"""What a fine-tuning job and an evaluation run will cost, from exact token counts.

Training (OpenAI's billing for supervised fine-tuning)::

    usd = training-file tokens × n_epochs × training price per 1M tokens / 1e6

Validation-file tokens are free. Each example's tokens are counted exactly with
:func:`llmrec.openai_api.tokens.count_chat_tokens` (``o200k_base`` plus the chat overhead).

Inference::

    usd = (input tokens × input price + output tokens × output price) / 1e6   (× 0.5 with Batch)

Input tokens are exact; output tokens are not known before the model answers, so they are
``n_requests × output_tokens_per_request``, by default the one rule of
:func:`llmrec.openai_api.cost.expected_output_tokens` (a ten-item list in the study's output
format). :func:`estimate_inference_cost` is a thin wrapper of
:func:`llmrec.openai_api.cost.estimate_chat_cost`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError, DataFormatError
from llmrec.openai_api.cost import estimate_chat_cost, expected_output_tokens
from llmrec.openai_api.models import DEFAULT_MODEL
from llmrec.openai_api.prices import PRICES, PriceTable, price_for, training_price
from llmrec.openai_api.tokens import count_chat_tokens, get_encoding

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
class TrainingCostEstimate:
    """Token counts and price of fine-tuning on one training file."""

    path: Path
    model: str
    n_epochs: int
    n_examples: int
    total_tokens: int
    min_tokens: int
    mean_tokens: float
    max_tokens: int
    price_per_million: float
    prices_as_of: str

    @property
    def billed_tokens(self) -> int:
        """Tokens OpenAI charges for: ``total_tokens × n_epochs``."""
        return self.total_tokens * self.n_epochs

    @property
    def usd(self) -> float:
        """Estimated training cost in USD."""
        return self.billed_tokens * self.price_per_million / 1e6

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "model": self.model,
            "n_epochs": self.n_epochs,
            "n_examples": self.n_examples,
            "total_tokens": self.total_tokens,
            "billed_tokens": self.billed_tokens,
            "tokens_per_example": {
                "min": self.min_tokens,
                "mean": self.mean_tokens,
                "max": self.max_tokens,
            },
            "price_per_million": self.price_per_million,
            "prices_as_of": self.prices_as_of,
            "usd": self.usd,
        }

    def __str__(self) -> str:
        return (
            f"{self.path.name}: {self.n_examples:,} examples, {self.total_tokens:,} tokens "
            f"(per example min {self.min_tokens:,} / mean {self.mean_tokens:,.1f} / max "
            f"{self.max_tokens:,}); {self.n_epochs} epochs → {self.billed_tokens:,} billed "
            f"tokens × {self.price_per_million:.2f} USD/1M = {self.usd:.2f} USD "
            f"({self.model}, prices of {self.prices_as_of})"
        )


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


def estimate_training_cost(
    path: str | Path,
    *,
    model: str = DEFAULT_MODEL,
    n_epochs: int = 2,
    prices: PriceTable | None = None,
) -> TrainingCostEstimate:
    """Count the tokens of a chat fine-tuning file and price ``n_epochs`` of training on it.

    The file should pass :func:`llmrec.finetune.validate_chat_jsonl`; a line that is not a
    JSON object with a ``messages`` list raises :class:`~llmrec.errors.DataFormatError`.
    """
    if not 1 <= n_epochs <= 50:
        raise ConfigError(f"n_epochs must be within [1, 50] (OpenAI's range), got {n_epochs}")
    table = PRICES if prices is None else prices
    per_million = training_price(model, table)
    src = Path(path)
    if not src.is_file():
        raise DataFormatError("fine-tuning file not found", path=src)
    encoding = get_encoding()
    counts: list[int] = []
    with open(src, "rb") as handle:
        for lineno, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataFormatError(
                    f"not UTF-8 ({exc.reason}); JSONL files must be UTF-8",
                    path=src,
                    line=lineno,
                    text=raw[:80].decode("latin-1"),
                ) from None
            if not line.strip():
                continue
            counts.append(count_chat_tokens(_messages(line, src, lineno), encoding=encoding))
    if not counts:
        raise DataFormatError("fine-tuning file holds no examples", path=src)
    return TrainingCostEstimate(
        path=src,
        model=model,
        n_epochs=n_epochs,
        n_examples=len(counts),
        total_tokens=sum(counts),
        min_tokens=min(counts),
        mean_tokens=sum(counts) / len(counts),
        max_tokens=max(counts),
        price_per_million=per_million,
        prices_as_of=table.as_of,
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


def _messages(line: str, src: Path, lineno: int) -> list[Mapping[str, Any]]:
    try:
        example = json.loads(line)
    except json.JSONDecodeError:
        raise DataFormatError("not valid JSON", path=src, line=lineno, text=line[:80]) from None
    messages = example.get("messages") if isinstance(example, dict) else None
    if not isinstance(messages, list):
        raise DataFormatError(
            "expected an object with a 'messages' list; run validate_chat_jsonl first",
            path=src,
            line=lineno,
            text=line[:80],
        )
    return [m for m in messages if isinstance(m, dict)]
