"""Compatibility helper: a method's validator and price, from the format it trains on
(:func:`llmrec.finetune.formats.format_for_method`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llmrec.finetune.formats.registry import format_for_method

if TYPE_CHECKING:
    from llmrec.finetune.formats.results import TrainingCostEstimate, ValidationReport
    from llmrec.openai_api.prices import PriceTable

__all__ = ["checks_for"]

_Validate = Callable[[str, str], "ValidationReport"]
_Price = Callable[[str, str, int, "PriceTable | None"], "TrainingCostEstimate"]


def checks_for(method: str) -> tuple[_Validate, _Price]:
    """``(validate(path, model), price(path, model, n_epochs, prices))`` for a method's files,
    as a hosted job runs them."""
    fmt = format_for_method(method)

    def validate(path: str, model: str) -> ValidationReport:
        return fmt.validate(path, model=model, max_example_tokens=fmt.hosted_limit(model))

    def price(
        path: str, model: str, n_epochs: int, prices: PriceTable | None
    ) -> TrainingCostEstimate:
        return fmt.estimate_cost(path, model=model, n_epochs=n_epochs, prices=prices)

    return validate, price
