"""Deprecated location: token counting moved to :mod:`llmrec.openai_api.tokens`.

Kept as a re-export for one release; import from ``llmrec.openai_api.tokens`` instead.
"""

from llmrec.openai_api.tokens import (
    ONLINE_ENV,
    TOKENS_PER_CONVERSATION,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    count_chat_tokens,
    count_tokens,
    get_encoding,
)

__all__ = [
    "ONLINE_ENV",
    "TOKENS_PER_CONVERSATION",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "count_chat_tokens",
    "count_tokens",
    "get_encoding",
]
