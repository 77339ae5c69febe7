"""Compatibility location of the preference token counts and price; they live in
:mod:`llmrec.finetune.formats.preference`."""

from llmrec.finetune.formats.preference import (
    DPO_DEFAULT_MODEL,
    count_preference_tokens,
    estimate_preference_cost,
    preference_sequences,
)

__all__ = [
    "DPO_DEFAULT_MODEL",
    "count_preference_tokens",
    "estimate_preference_cost",
    "preference_sequences",
]
