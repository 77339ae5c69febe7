"""Compatibility location of the preference file writer and reader; they live in
:mod:`llmrec.finetune.formats.preference`."""

from llmrec.finetune.formats.preference import (
    PreferenceRow,
    export_preference_jsonl,
    read_preference_jsonl,
)

__all__ = ["PreferenceRow", "export_preference_jsonl", "read_preference_jsonl"]
