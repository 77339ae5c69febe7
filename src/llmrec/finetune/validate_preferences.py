"""Compatibility location of the preference file checks; they live in
:mod:`llmrec.finetune.formats.preference`, and a file's format is recognised by
:func:`llmrec.finetune.formats.detect_format`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from llmrec.finetune.formats.preference import PREFERENCE_TOKEN_LIMITS, validate_preference_jsonl
from llmrec.finetune.formats.registry import detect_format

__all__ = [
    "PREFERENCE_TOKEN_LIMITS",
    "FileKind",
    "file_kind",
    "validate_preference_jsonl",
]

FileKind = Literal["chat", "preference"]


def file_kind(path: str | Path) -> str:
    """The name of the file's format (``"chat"``, ``"preference"``, or a registered one); see
    :func:`~llmrec.finetune.formats.detect_format`."""
    return detect_format(path).name
