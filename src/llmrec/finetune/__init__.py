"""Fine-tuning data and hosted jobs: the paper's loop φ, end to end.

Export a :class:`~llmrec.truth.ProfileDataset` as chat JSONL (:func:`export_chat_jsonl`), check
it the way OpenAI will (:func:`validate_chat_jsonl`), price it from exact token counts
(:func:`estimate_training_cost`), then run the hosted job with :class:`FineTuner`, which keeps
every step in a :class:`RunManifest` so an interrupted run resumes without paying twice.

Preference tuning (DPO): :func:`build_preference_pairs` pairs the gold list with a rejected
answer from a named source, :func:`export_preference_jsonl` writes OpenAI's preference format,
:func:`validate_preference_jsonl` and :func:`estimate_preference_cost` check and price it, and
``FineTuner.start(..., method="dpo")`` runs the hosted job. :func:`read_preference_jsonl`
gives rows TRL's ``DPOTrainer`` takes.

Both file kinds are one interface, :class:`FileFormat` (:mod:`llmrec.finetune.formats`):
:func:`detect_format` recognises a file, :func:`format_for_method` names the format a method
trains on, and :func:`register_format` adds a new one.
"""

from __future__ import annotations

from llmrec.finetune.answers import load_answers
from llmrec.finetune.cost import InferenceCostEstimate, estimate_inference_cost
from llmrec.finetune.dpo_models import DPO_MODELS
from llmrec.finetune.formats import (
    FileFormat,
    Finding,
    PreferenceRow,
    TrainingCostEstimate,
    ValidationReport,
    detect_format,
    format_for_method,
    get_format,
    register_format,
)
from llmrec.finetune.formats.chat import (
    estimate_training_cost,
    export_chat_jsonl,
    validate_chat_jsonl,
)
from llmrec.finetune.formats.preference import (
    count_preference_tokens,
    estimate_preference_cost,
    export_preference_jsonl,
    read_preference_jsonl,
    validate_preference_jsonl,
)
from llmrec.finetune.job import FineTuner, JobState
from llmrec.finetune.manifest import FineTuneConfig, RunManifest
from llmrec.finetune.pairs import (
    REJECTED_SOURCES,
    PairSummary,
    PreferencePair,
    build_preference_pairs,
)
from llmrec.openai_api.prices import PRICES, ModelPrice, PriceTable, price_for
from llmrec.openai_api.tokens import count_chat_tokens, count_tokens

__all__ = [
    "DPO_MODELS",
    "PRICES",
    "REJECTED_SOURCES",
    "FileFormat",
    "Finding",
    "FineTuneConfig",
    "FineTuner",
    "InferenceCostEstimate",
    "JobState",
    "ModelPrice",
    "PairSummary",
    "PreferencePair",
    "PreferenceRow",
    "PriceTable",
    "RunManifest",
    "TrainingCostEstimate",
    "ValidationReport",
    "build_preference_pairs",
    "count_chat_tokens",
    "count_preference_tokens",
    "count_tokens",
    "detect_format",
    "estimate_inference_cost",
    "estimate_preference_cost",
    "estimate_training_cost",
    "export_chat_jsonl",
    "export_preference_jsonl",
    "format_for_method",
    "get_format",
    "load_answers",
    "price_for",
    "read_preference_jsonl",
    "register_format",
    "validate_chat_jsonl",
    "validate_preference_jsonl",
]
