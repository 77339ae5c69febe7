"""Transports: send a planned batch of chat requests, return one answer each.

:mod:`.base` holds the contract (:class:`~.base.Transport`, :class:`~.base.ChatRequest`,
:class:`~.base.ChatAnswer`, capability names); :mod:`.openai_chat` and :mod:`.openai_batch` the
OpenAI implementations. Heavy packages (the ``openai`` SDK, ``transformers``) are imported inside
methods, never when this package is imported.
"""

from llmrec.recommenders.llm.transports.base import ChatAnswer, ChatRequest, Transport

__all__ = ["ChatAnswer", "ChatRequest", "Transport"]
