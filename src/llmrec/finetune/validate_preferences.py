"""Check a preference (DPO) fine-tuning file the way OpenAI does, line by line.

The checks follow OpenAI's preference input format (API reference, "The preference input
format"; guide "Direct preference optimization": one-turn examples whose preferred and
non-preferred messages are the final assistant message). Findings reuse
:class:`~llmrec.finetune.validate.Finding` and :class:`~llmrec.finetune.validate.ValidationReport`
and the chat checks' codes where they mean the same:

===========================  ================================================================
code                         meaning
===========================  ================================================================
``invalid_json``             the line is not JSON (a blank line is reported too)
``not_object``               the line is JSON but not an object
``unknown_key``              a key other than input/preferred_output/non_preferred_output, an
                             ``input`` key other than messages/tools/parallel_tool_calls, or a
                             message key its role does not allow
``missing_input``            ``input`` is missing or not an object
``missing_messages``         ``input.messages`` is missing, not a list, or empty
``message_not_object``       a message is not an object
``unknown_role``             a role other than system, user, assistant, tool, function
``missing_content``          content missing, not a string, or empty
``prompt_not_user_last``     the last input message is not from the user (one-turn examples)
``invalid_output``           an output is missing or not a list of exactly one message
``output_not_assistant``     an output message whose role is not ``assistant``
``identical_outputs``        preferred and non-preferred content are the same
``too_many_tokens``          either conversation exceeds the model's per-example token limit
``too_few_examples``         fewer than ``min_examples`` (10) examples in the file (line 0)
===========================  ================================================================

Token counts are exact (:func:`llmrec.finetune.preference_cost.count_preference_tokens`);
``example_tokens`` of the report holds each example's count (both conversations).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from llmrec.errors import ConfigError, DataFormatError
from llmrec.finetune.preference_cost import DPO_DEFAULT_MODEL, preference_sequences
from llmrec.finetune.tokens import count_chat_tokens, get_encoding
from llmrec.finetune.validate import (
    _MESSAGE_KEYS,
    EXAMPLE_TOKEN_LIMITS,
    MIN_EXAMPLES,
    Finding,
    ValidationReport,
)

__all__ = [
    "PREFERENCE_TOKEN_LIMITS",
    "FileKind",
    "file_kind",
    "validate_preference_jsonl",
]

PREFERENCE_TOKEN_LIMITS: Mapping[str, int] = {
    **EXAMPLE_TOKEN_LIMITS,
    "gpt-4.1-2025-04-14": 65_536,
    "gpt-4.1-mini-2025-04-14": 65_536,
    "gpt-4.1-nano-2025-04-14": 65_536,
}
"""Maximum tokens per training conversation, by base model (OpenAI fine-tuning guide)."""

FileKind = Literal["chat", "preference"]

_TOP_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
_INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
_OUTPUT_KEYS = ("preferred_output", "non_preferred_output")


def file_kind(path: str | Path) -> FileKind:
    """``"preference"`` when the first non-blank line is an object with ``input``,
    ``preferred_output`` or ``non_preferred_output`` and no ``messages``; else ``"chat"``.

    A file that cannot be read as either (missing, or a first line that is not a JSON object)
    counts as ``"chat"``, whose validator then reports the problem.
    """
    src = Path(path)
    if not src.is_file():
        return "chat"
    with open(src, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                return "chat"
            if isinstance(obj, dict) and "messages" not in obj and _TOP_KEYS & set(obj):
                return "preference"
            return "chat"
    return "chat"


def validate_preference_jsonl(
    path: str | Path,
    *,
    model: str = DPO_DEFAULT_MODEL,
    min_examples: int = MIN_EXAMPLES,
    max_example_tokens: int | None = None,
) -> ValidationReport:
    """Run OpenAI's documented checks on a preference (DPO) JSONL file; report every finding.

    ``max_example_tokens`` overrides the per-conversation limit of ``model`` (required for a
    model missing from :data:`PREFERENCE_TOKEN_LIMITS`). A missing file raises
    ``DataFormatError``.
    """
    src = Path(path)
    limit = max_example_tokens if max_example_tokens is not None else _limit_for(model)
    if limit < 1:
        raise ConfigError(f"max_example_tokens must be positive, got {limit}")
    if not src.is_file():
        raise DataFormatError("preference file not found", path=src)
    encoding = get_encoding()
    report = ValidationReport(path=src, model=model, n_examples=0)
    raw_lines = src.read_bytes().splitlines()
    while raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()
    for lineno, raw in enumerate(raw_lines, 1):
        report.n_examples += 1
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.findings.append(
                Finding(lineno, "invalid_json", f"not UTF-8 (byte {exc.start + 1}): {raw[:60]!r}")
            )
            continue
        example = _check_line(line, lineno, report.findings)
        if example is None:
            continue
        counts = [
            count_chat_tokens(seq, encoding=encoding) for seq in preference_sequences(example)
        ]
        report.example_tokens.append(sum(counts))
        for name, tokens in zip(("preferred", "non-preferred"), counts, strict=True):
            if tokens > limit:
                report.findings.append(
                    Finding(
                        lineno,
                        "too_many_tokens",
                        f"input + {name} output has {tokens:,} tokens; {model} allows "
                        f"{limit:,} per example",
                    )
                )
    if report.n_examples < min_examples:
        report.findings.insert(
            0,
            Finding(
                0,
                "too_few_examples",
                f"{report.n_examples} examples; OpenAI requires at least {min_examples}",
            ),
        )
    return report


def _limit_for(model: str) -> int:
    base = model.split(":")[1] if model.startswith("ft:") else model
    limit = PREFERENCE_TOKEN_LIMITS.get(base)
    if limit is None:
        raise ConfigError(
            f"no per-example token limit known for {model!r} (known: "
            f"{sorted(PREFERENCE_TOKEN_LIMITS)}); pass max_example_tokens=..."
        )
    return limit


def _check_line(line: str, lineno: int, findings: list[Finding]) -> dict[str, Any] | None:
    """Check one example; return it when token counting makes sense."""

    def add(code: str, message: str) -> None:
        findings.append(Finding(lineno, code, message))

    if not line.strip():
        add("invalid_json", "blank line; every line must hold one example")
        return None
    try:
        example = json.loads(line)
    except json.JSONDecodeError as exc:
        shown = line.strip()[:60]
        add("invalid_json", f"not valid JSON ({exc.msg} at column {exc.colno}): {shown!r}")
        return None
    if not isinstance(example, dict):
        add("not_object", f"expected a JSON object, got {type(example).__name__}")
        return None
    for key in sorted(set(example) - _TOP_KEYS):
        hint = " (a chat example? DPO needs the preference format)" if key == "messages" else ""
        add("unknown_key", f"unknown example key {key!r} (allowed: {sorted(_TOP_KEYS)}){hint}")
    given = example.get("input")
    if not isinstance(given, dict):
        add("missing_input", "'input' must be an object holding 'messages'")
    else:
        for key in sorted(set(given) - _INPUT_KEYS):
            add("unknown_key", f"unknown input key {key!r} (allowed: {sorted(_INPUT_KEYS)})")
        _check_prompt(given.get("messages"), add)
    contents: list[str] = []
    for key in _OUTPUT_KEYS:
        value = example.get(key)
        if not isinstance(value, list) or len(value) != 1:
            add("invalid_output", f"{key!r} must be a list holding exactly one assistant message")
            continue
        message = value[0]
        if not isinstance(message, dict):
            add("message_not_object", f"{key}[0] is {type(message).__name__}, not object")
            continue
        if message.get("role") != "assistant":
            add("output_not_assistant", f"{key}[0] has role {message.get('role')!r}")
        for extra in sorted(set(message) - _MESSAGE_KEYS["assistant"]):
            add("unknown_key", f"{key}[0] has unknown key {extra!r}")
        content = message.get("content")
        if not isinstance(content, str) or not content:
            add("missing_content", f"{key}[0] needs non-empty string content")
        else:
            contents.append(content)
    if len(contents) == 2 and contents[0] == contents[1]:
        add("identical_outputs", "preferred and non-preferred outputs are the same text")
    return example


def _check_prompt(messages: Any, add: Any) -> None:
    if not isinstance(messages, list) or not messages:
        add("missing_messages", "'input.messages' must be a non-empty list of messages")
        return
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            add("message_not_object", f"input message {index} is {type(message).__name__}")
            continue
        role = message.get("role")
        allowed = _MESSAGE_KEYS.get(role) if isinstance(role, str) else None
        if allowed is None:
            add("unknown_role", f"input message {index} has role {role!r}")
            allowed = frozenset().union(*_MESSAGE_KEYS.values())
        for key in sorted(set(message) - allowed):
            add("unknown_key", f"input message {index} ({role}) has unknown key {key!r}")
        content = message.get("content")
        if not isinstance(content, str) or not content:
            add("missing_content", f"input message {index} ({role}) needs non-empty content")
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") != "user":
        add(
            "prompt_not_user_last",
            f"the last input message has role {last.get('role')!r}; DPO examples are one turn: "
            "the input must end with the user's message",
        )
