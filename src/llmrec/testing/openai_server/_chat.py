"""Chat completions for the local server: request checks, the reply function, the response object.

``usage`` counts tokens with the server's token counter over each message's content (whitespace
words by default): ``prompt_tokens`` over the request's messages, ``completion_tokens`` over the
reply. Real OpenAI counts add a few tokens of per-message overhead; tests that need exact figures
pass ``llmrec.finetune`` token counting as the counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from llmrec.testing.openai_server._state import (
    APIError,
    IdMaker,
    TokenCounter,
    count_message_tokens,
)

__all__ = [
    "ChatFunction",
    "check_chat_request",
    "complete",
    "echo_last_user_message",
    "reject_unsupported_format",
]

ChatFunction = Callable[[dict[str, Any]], "str | dict[str, Any]"]

SYSTEM_FINGERPRINT = "fp_llmrec_local"


def echo_last_user_message(body: dict[str, Any]) -> str:
    """The default reply: the content of the last user message (empty if there is none)."""
    for message in reversed(body.get("messages", [])):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""


def check_chat_request(body: Any) -> dict[str, Any]:
    """Reject what the local server cannot answer, with OpenAI-style 400 errors."""
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise APIError(400, "you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "'messages' must be a non-empty array", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise APIError(400, f"messages[{i}] must be an object with a role", param="messages")
    n = body.get("n", 1)
    if n not in (1, None):
        raise APIError(400, f"the local server answers n=1 only, got n={n!r}", param="n")
    if body.get("stream"):
        raise APIError(400, "the local server does not stream; omit stream", param="stream")
    return body


def reject_unsupported_format(body: dict[str, Any], rejected: frozenset[str]) -> None:
    """Answer a ``response_format`` type in ``rejected`` as llama.cpp's server does: HTTP 500,
    ``response_format type must be one of "text" or "json_object", but got: json_schema``."""
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind is None or kind not in rejected:
        return
    allowed = [t for t in ("text", "json_object", "json_schema") if t not in rejected]
    shown = " or ".join(f'"{t}"' for t in allowed)
    must = f"must be one of {shown}" if len(allowed) > 1 else f"must be {shown}"
    raise APIError(500, f"response_format type {must}, but got: {kind}", type="server_error")


def complete(
    body: dict[str, Any], chat: ChatFunction, ids: IdMaker, counter: TokenCounter
) -> dict[str, Any]:
    """Run ``chat`` on a checked request body and wrap a text reply as a ``chat.completion``.

    A dict returned by ``chat`` is taken as the whole response and returned unchanged.
    """
    try:
        reply = chat(body)
    except Exception as exc:  # the chat function is test code: report its failure as a 500
        raise APIError(
            500, f"the chat function raised {type(exc).__name__}: {exc}", type="server_error"
        ) from exc
    if isinstance(reply, dict):
        return reply
    if not isinstance(reply, str):
        raise APIError(
            500,
            f"the chat function must return str or dict, not {type(reply).__name__}",
            type="server_error",
        )
    prompt = count_message_tokens(body["messages"], counter)
    completion = counter(reply)
    return {
        "id": ids.new("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    }
