"""DPO jobs on the local server: the ``method`` object and the preference training file.

``method={"type": "dpo", "dpo": {"hyperparameters": {...}}}`` is checked as OpenAI's
``FineTuneDPOMethod`` describes it: ``beta`` in (0, 2] or ``"auto"`` (read as 0.1 here),
``batch_size`` 1-256, ``learning_rate_multiplier`` > 0, ``n_epochs`` 1-50, each also ``"auto"``.
A DPO job's training file must be in the preference format (OpenAI's preference input): one
object a line with ``input.messages`` (a list of message objects) and ``preferred_output`` and
``non_preferred_output``, each a list of one assistant message with string content. A chat
file (``messages`` lines) fails the job as OpenAI fails it: ``invalid_training_file``.
"""

from __future__ import annotations

from typing import Any

from llmrec.testing.openai_server._state import APIError, TokenCounter, check_training_file

__all__ = ["AUTO_BETA", "check_preference_file", "dpo_beta"]

AUTO_BETA = 0.1
"""The beta the local server reports for ``"auto"``."""


def dpo_beta(hyperparameters: dict[str, Any]) -> float:
    """The ``beta`` of a DPO method's hyperparameters; ``APIError`` 400 when out of range."""
    value = hyperparameters.get("beta", "auto")
    if value == "auto":
        return AUTO_BETA
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 < value <= 2:
        raise APIError(
            400,
            f"invalid beta: {value!r}; it must be a number in (0, 2] or 'auto'",
            param="method.dpo.hyperparameters.beta",
        )
    return float(value)


def check_preference_file(content: bytes, counter: TokenCounter) -> tuple[int, int, str | None]:
    """``(examples, tokens, error)`` for a preference file; ``error`` is None when valid.

    Tokens count the input messages and both outputs (the server's counter).
    """
    return check_training_file(content, counter, _pair_messages)


def _pair_messages(lineno: int, obj: Any) -> list[dict[str, Any]] | str:
    """The messages of one preference line (input and both outputs), or why the file fails."""
    if not isinstance(obj, dict):
        return f"Invalid file format. Line {lineno} is not a JSON object."
    given = obj.get("input")
    messages = given.get("messages") if isinstance(given, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        hint = " (this is a chat file; DPO needs preference pairs)" if "messages" in obj else ""
        return f'Invalid file format. Line {lineno}, key "input" is missing.{hint}'
    outputs: list[dict[str, Any]] = []
    for key in ("preferred_output", "non_preferred_output"):
        value = obj.get(key)
        message = value[0] if isinstance(value, list) and len(value) == 1 else None
        if (
            not isinstance(message, dict)
            or message.get("role") != "assistant"
            or not isinstance(message.get("content"), str)
        ):
            return (
                f'Invalid file format. Line {lineno}, key "{key}" must hold one assistant message.'
            )
        outputs.append(message)
    return [*messages, *outputs]
