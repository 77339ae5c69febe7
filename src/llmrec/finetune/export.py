"""Compatibility location of the chat file writer; it lives in
:mod:`llmrec.finetune.formats.chat`."""

from llmrec.finetune.formats.chat import export_chat_jsonl

__all__ = ["export_chat_jsonl"]
