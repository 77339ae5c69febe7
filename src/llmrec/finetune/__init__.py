"""Fine-tuning data and hosted jobs: the paper's loop φ, end to end.

Export a :class:`~llmrec.truth.ProfileDataset` as chat JSONL (:func:`export_chat_jsonl`), check
it the way OpenAI will (:func:`validate_chat_jsonl`), price it from exact token counts
(:func:`estimate_training_cost`), then run the hosted job with :class:`FineTuner`, which keeps
every step in a :class:`RunManifest` so an interrupted run resumes without paying twice.
"""

from __future__ import annotations

from llmrec.finetune.cost import (
    InferenceCostEstimate,
    TrainingCostEstimate,
    estimate_inference_cost,
    estimate_training_cost,
)
from llmrec.finetune.export import export_chat_jsonl
from llmrec.finetune.job import FineTuner, JobState
from llmrec.finetune.manifest import FineTuneConfig, RunManifest
from llmrec.finetune.validate import Finding, ValidationReport, validate_chat_jsonl
from llmrec.openai_api.prices import PRICES, ModelPrice, PriceTable, price_for
from llmrec.openai_api.tokens import count_chat_tokens, count_tokens

__all__ = [
    "PRICES",
    "Finding",
    "FineTuneConfig",
    "FineTuner",
    "InferenceCostEstimate",
    "JobState",
    "ModelPrice",
    "PriceTable",
    "RunManifest",
    "TrainingCostEstimate",
    "ValidationReport",
    "count_chat_tokens",
    "count_tokens",
    "estimate_inference_cost",
    "estimate_training_cost",
    "export_chat_jsonl",
    "price_for",
    "validate_chat_jsonl",
]
