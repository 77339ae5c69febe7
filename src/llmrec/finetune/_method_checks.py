"""Which validator and cost estimate a fine-tuning method's files go through.

``supervised`` jobs take chat files (:func:`~llmrec.finetune.validate_chat_jsonl`,
:func:`~llmrec.finetune.estimate_training_cost`); ``dpo`` jobs take preference files
(:func:`~llmrec.finetune.validate_preference_jsonl`,
:func:`~llmrec.finetune.estimate_preference_cost`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmrec.finetune.cost import TrainingCostEstimate
    from llmrec.finetune.prices import PriceTable
    from llmrec.finetune.validate import ValidationReport

__all__ = ["checks_for"]

_Validate = Callable[[str, str], "ValidationReport"]
_Price = Callable[[str, str, int, "PriceTable | None"], "TrainingCostEstimate"]


def checks_for(method: str) -> tuple[_Validate, _Price]:
    """``(validate(path, model), price(path, model, n_epochs, prices))`` for a method's files."""
    if method == "dpo":
        from llmrec.finetune.dpo_models import DPO_MODELS
        from llmrec.finetune.preference_cost import estimate_preference_cost
        from llmrec.finetune.validate_preferences import (
            PREFERENCE_TOKEN_LIMITS,
            validate_preference_jsonl,
        )

        def validate(path: str, model: str) -> ValidationReport:
            # an allowed unlisted model is checked against the limit of the documented ones
            known = model in PREFERENCE_TOKEN_LIMITS
            limit = None if known else PREFERENCE_TOKEN_LIMITS[DPO_MODELS[0]]
            return validate_preference_jsonl(path, model=model, max_example_tokens=limit)

        def price(
            path: str, model: str, n_epochs: int, prices: PriceTable | None
        ) -> TrainingCostEstimate:
            return estimate_preference_cost(path, model=model, n_epochs=n_epochs, prices=prices)

        return validate, price
    from llmrec.finetune.cost import estimate_training_cost
    from llmrec.finetune.validate import validate_chat_jsonl

    def validate_chat(path: str, model: str) -> ValidationReport:
        return validate_chat_jsonl(path, model=model)

    def price_chat(
        path: str, model: str, n_epochs: int, prices: PriceTable | None
    ) -> TrainingCostEstimate:
        return estimate_training_cost(path, model=model, n_epochs=n_epochs, prices=prices)

    return validate_chat, price_chat
