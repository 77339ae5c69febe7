"""The OpenAI names llmrec knows: the study's base model, the API root, the chat path.

This module and :mod:`llmrec.openai_api.prices` are the only places the base model id is
written out; everything else refers to :data:`DEFAULT_MODEL`.
"""

from __future__ import annotations

__all__ = ["CHAT_PATH", "DEFAULT_MODEL", "OPENAI_BASE_URL", "fine_tuned_family"]

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
"""The study's base model (zero-shot, and the base of the fine-tuned one)."""
OPENAI_BASE_URL = "https://api.openai.com/v1"
"""OpenAI's API root, used when neither ``base_url`` nor ``$OPENAI_BASE_URL`` is set."""
CHAT_PATH = "/chat/completions"
"""Chat completions, relative to the API root."""


def fine_tuned_family(base: str = DEFAULT_MODEL) -> str:
    """``ft:BASE``: what a model fine-tuned from ``base`` is priced as before its id is known.

    Fine-tuned ids look like ``ft:BASE:org:suffix:id``; the price table keys them on ``ft:BASE``.
    """
    return f"ft:{base}"
