"""Compatibility location of the chat file checks; they live in
:mod:`llmrec.finetune.formats.chat` (``validate_chat_jsonl``, the finding codes) and
:mod:`llmrec.finetune.formats.results` (``Finding``, ``ValidationReport``)."""

from llmrec.finetune.formats.chat import EXAMPLE_TOKEN_LIMITS, validate_chat_jsonl
from llmrec.finetune.formats.chat import MESSAGE_KEYS as _MESSAGE_KEYS
from llmrec.finetune.formats.results import MIN_EXAMPLES, Finding, ValidationReport

__all__ = [
    "EXAMPLE_TOKEN_LIMITS",
    "MIN_EXAMPLES",
    "Finding",
    "ValidationReport",
    "validate_chat_jsonl",
]
_ = _MESSAGE_KEYS  # kept importable: earlier releases shared it with the preference checks
