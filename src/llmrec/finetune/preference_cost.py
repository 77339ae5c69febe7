"""Exact token counts and training cost of preference (DPO) files.

DPO trains on two conversations per example, the prompt followed by the preferred answer and
the prompt followed by the non-preferred one, so an example counts both::

    tokens = chat_tokens(input.messages + preferred_output)
           + chat_tokens(input.messages + non_preferred_output)

with ``chat_tokens`` the exact ``o200k_base`` count and chat overhead of
:func:`llmrec.finetune.tokens.count_chat_tokens`. OpenAI bills preference fine-tuning by the
tokens of the training file times the epochs (its billing guide); it does not publish how the
shared prompt is counted, so counting it twice makes the estimate an upper one. The billed
figure after the job comes from the job's ``trained_tokens``. Price rows:
:mod:`llmrec.finetune.prices`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError, DataFormatError
from llmrec.finetune.cost import TrainingCostEstimate
from llmrec.finetune.prices import PRICES, PriceTable, training_price
from llmrec.finetune.tokens import count_chat_tokens, get_encoding

__all__ = [
    "DPO_DEFAULT_MODEL",
    "count_preference_tokens",
    "estimate_preference_cost",
    "preference_sequences",
]

DPO_DEFAULT_MODEL = "gpt-4.1-mini-2025-04-14"
"""The model preference files are checked and priced for when none is named."""


def preference_sequences(
    example: Mapping[str, Any],
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The two conversations DPO trains on: input + preferred, input + non-preferred.

    Only object messages are kept; a missing or malformed part counts as empty.
    """
    given = example.get("input")
    messages = given.get("messages") if isinstance(given, dict) else None
    prompt: list[Mapping[str, Any]] = []
    if isinstance(messages, list):
        prompt = [m for m in messages if isinstance(m, dict)]
    out: list[list[Mapping[str, Any]]] = []
    for key in ("preferred_output", "non_preferred_output"):
        value = example.get(key)
        answer: list[Mapping[str, Any]] = []
        if isinstance(value, list):
            answer = [m for m in value if isinstance(m, dict)]
        out.append(prompt + answer)
    return out[0], out[1]


def count_preference_tokens(example: Mapping[str, Any], *, encoding: Any = None) -> int:
    """Tokens of one preference example: both conversations, by the module formula."""
    enc = get_encoding() if encoding is None else encoding
    preferred, non_preferred = preference_sequences(example)
    return count_chat_tokens(preferred, encoding=enc) + count_chat_tokens(
        non_preferred, encoding=enc
    )


def estimate_preference_cost(
    path: str | Path,
    *,
    model: str = DPO_DEFAULT_MODEL,
    n_epochs: int = 2,
    prices: PriceTable | None = None,
) -> TrainingCostEstimate:
    """Count the tokens of a preference file and price ``n_epochs`` of DPO training on it.

    The file should pass :func:`llmrec.finetune.validate_preference_jsonl`; a line that is not
    a JSON object with an ``input`` object raises :class:`~llmrec.errors.DataFormatError`.
    """
    if not 1 <= n_epochs <= 50:
        raise ConfigError(f"n_epochs must be within [1, 50] (OpenAI's range), got {n_epochs}")
    table = PRICES if prices is None else prices
    per_million = training_price(model, table)
    src = Path(path)
    if not src.is_file():
        raise DataFormatError("preference file not found", path=src)
    encoding = get_encoding()
    counts: list[int] = []
    with open(src, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                example = json.loads(line)
            except json.JSONDecodeError:
                raise DataFormatError(
                    "not valid JSON", path=src, line=lineno, text=line[:80]
                ) from None
            if not isinstance(example, dict) or not isinstance(example.get("input"), dict):
                raise DataFormatError(
                    "expected an object with an 'input' object; run validate_preference_jsonl "
                    "first",
                    path=src,
                    line=lineno,
                    text=line[:80],
                )
            counts.append(count_preference_tokens(example, encoding=encoding))
    if not counts:
        raise DataFormatError("preference file holds no examples", path=src)
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
