"""Deprecated location: the price table moved to :mod:`llmrec.openai_api.prices`.

Kept as a re-export for one release; import from ``llmrec.openai_api.prices`` instead.
"""

from llmrec.openai_api.prices import (
    BATCH_DISCOUNT,
    PRICES,
    PRICES_AS_OF,
    ModelPrice,
    PriceTable,
    inference_cost,
    price_for,
    training_price,
)

__all__ = [
    "BATCH_DISCOUNT",
    "PRICES",
    "PRICES_AS_OF",
    "ModelPrice",
    "PriceTable",
    "inference_cost",
    "price_for",
    "training_price",
]
