"""Fine-tuning file formats: one interface that writes, reads, checks, counts and prices a file.

:class:`FileFormat` is the interface; :data:`CHAT` (OpenAI's chat format, for supervised
fine-tuning) and :data:`PREFERENCE` (OpenAI's preference format, for DPO) are the built-in
formats. :func:`detect_format` recognises a file's format from its first line,
:func:`format_for_method` says which format a fine-tuning method trains on, and
:func:`register_format` / :func:`register_method` add new ones (docs/architecture.md, "a new
file format")::

    fmt = detect_format("train.jsonl")
    report = fmt.validate("train.jsonl")          # every finding, by line
    cost = fmt.estimate_cost("train.jsonl", n_epochs=2)
"""

from __future__ import annotations

from llmrec.finetune.formats.base import FileFormat
from llmrec.finetune.formats.chat import CHAT, ChatFormat, Conversation
from llmrec.finetune.formats.preference import PREFERENCE, PreferenceFormat, PreferenceRow
from llmrec.finetune.formats.registry import (
    METHOD_FORMATS,
    available_formats,
    detect_format,
    format_for_method,
    get_format,
    register_format,
    register_method,
    require_format,
)
from llmrec.finetune.formats.results import (
    MIN_EXAMPLES,
    Finding,
    TrainingCostEstimate,
    ValidationReport,
)

__all__ = [
    "CHAT",
    "METHOD_FORMATS",
    "MIN_EXAMPLES",
    "PREFERENCE",
    "ChatFormat",
    "Conversation",
    "FileFormat",
    "Finding",
    "PreferenceFormat",
    "PreferenceRow",
    "TrainingCostEstimate",
    "ValidationReport",
    "available_formats",
    "detect_format",
    "format_for_method",
    "get_format",
    "register_format",
    "register_method",
    "require_format",
]
