"""Check a chat fine-tuning file the way OpenAI does before it accepts it, line by line.

The checks follow OpenAI's chat fine-tuning input format (API reference, "The chat input
format") and the format checks of the OpenAI cookbook notebook "Data preparation and analysis
for chat model fine-tuning". Each finding names its 1-based line and a stable code:

==========================  =================================================================
code                        meaning
==========================  =================================================================
``invalid_json``            the line is not JSON (a blank line is reported too)
``not_object``              the line is JSON but not an object
``unknown_key``             an example key other than messages/tools/parallel_tool_calls/
                            functions, or a message key the role does not allow
``missing_messages``        ``messages`` is missing, not a list, or empty
``message_not_object``      a message is not an object
``unknown_role``            a role other than system, user, assistant, tool, function
``missing_content``         content missing, not a string, or empty (an assistant message
                            that makes a tool or function call may omit it)
``invalid_weight``          an assistant ``weight`` other than 0 or 1
``no_assistant_message``    no assistant message to learn from
``too_many_tokens``         the example exceeds the model's per-example token limit
``too_few_examples``        fewer than ``min_examples`` (10) examples in the file (line 0)
==========================  =================================================================

Token counts use :func:`llmrec.openai_api.tokens.count_chat_tokens` (exact ``o200k_base``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError, DataFormatError, ValidationError
from llmrec.openai_api.models import DEFAULT_MODEL
from llmrec.openai_api.tokens import count_chat_tokens, get_encoding

__all__ = [
    "EXAMPLE_TOKEN_LIMITS",
    "MIN_EXAMPLES",
    "Finding",
    "ValidationReport",
    "validate_chat_jsonl",
]

MIN_EXAMPLES = 10
"""OpenAI requires at least 10 training examples."""

EXAMPLE_TOKEN_LIMITS: Mapping[str, int] = {
    DEFAULT_MODEL: 65_536,
    "gpt-4o-2024-08-06": 65_536,
}
"""Maximum tokens per training example, by base model (OpenAI fine-tuning guide)."""

_EXAMPLE_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
_MESSAGE_KEYS: Mapping[str, frozenset[str]] = {
    "system": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset(
        {"role", "content", "name", "weight", "tool_calls", "function_call", "refusal"}
    ),
    "tool": frozenset({"role", "content", "tool_call_id"}),
    "function": frozenset({"role", "content", "name"}),
}


@dataclass(frozen=True)
class Finding:
    """One problem: ``line`` (1-based; 0 for the whole file), a stable ``code``, a message."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        where = "file" if self.line == 0 else f"line {self.line}"
        return f"{where}: [{self.code}] {self.message}"


@dataclass
class ValidationReport:
    """Result of :func:`validate_chat_jsonl`: findings in line order and per-example tokens."""

    path: Path
    model: str
    n_examples: int
    findings: list[Finding] = field(default_factory=list)
    example_tokens: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """``True`` when OpenAI would accept the file (no findings)."""
        return not self.findings

    def __str__(self) -> str:
        head = f"{self.path}: {self.n_examples} examples, {len(self.findings)} findings"
        return "\n".join([head, *(f"  {f}" for f in self.findings)])

    def raise_if_invalid(self) -> None:
        """Raise :class:`~llmrec.errors.ValidationError` listing every finding, if any."""
        if self.findings:
            shown = "\n".join(f"  {f}" for f in self.findings[:50])
            more = len(self.findings) - 50
            tail = f"\n  ... and {more} more" if more > 0 else ""
            raise ValidationError(
                f"{self.path} fails OpenAI's fine-tuning checks for {self.model} "
                f"({len(self.findings)} findings):\n{shown}{tail}",
                findings=list(self.findings),
            )


def validate_chat_jsonl(
    path: str | Path,
    *,
    model: str = DEFAULT_MODEL,
    min_examples: int = MIN_EXAMPLES,
    max_example_tokens: int | None = None,
) -> ValidationReport:
    """Run OpenAI's documented checks on a chat fine-tuning JSONL file.

    ``max_example_tokens`` overrides the per-example limit of ``model`` (required for a model
    missing from :data:`EXAMPLE_TOKEN_LIMITS`). Never stops at the first problem: every line is
    checked and every finding reported. A missing file raises ``DataFormatError``.
    """
    src = Path(path)
    limit = max_example_tokens if max_example_tokens is not None else _limit_for(model)
    if limit < 1:
        raise ConfigError(f"max_example_tokens must be positive, got {limit}")
    if not src.is_file():
        raise DataFormatError("fine-tuning file not found", path=src)
    encoding = get_encoding()
    report = ValidationReport(path=src, model=model, n_examples=0)
    raw_lines = src.read_bytes().splitlines()
    while raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()  # trailing blank lines (a final newline) are harmless
    for lineno, raw in enumerate(raw_lines, 1):
        report.n_examples += 1
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.findings.append(
                Finding(lineno, "invalid_json", f"not UTF-8 (byte {exc.start + 1}): {raw[:60]!r}")
            )
            continue
        messages = _check_line(line, lineno, report.findings)
        if messages is None:
            continue
        tokens = count_chat_tokens((m for m in messages if isinstance(m, dict)), encoding=encoding)
        report.example_tokens.append(tokens)
        if tokens > limit:
            report.findings.append(
                Finding(
                    lineno,
                    "too_many_tokens",
                    f"example has {tokens:,} tokens; {model} allows {limit:,} per example",
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
    limit = EXAMPLE_TOKEN_LIMITS.get(base)
    if limit is None:
        raise ConfigError(
            f"no per-example token limit known for {model!r} (known: "
            f"{sorted(EXAMPLE_TOKEN_LIMITS)}); pass max_example_tokens=..."
        )
    return limit


def _check_line(line: str, lineno: int, findings: list[Finding]) -> list[Any] | None:
    """Check one example; return its messages list when token counting makes sense."""

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
    for key in sorted(set(example) - _EXAMPLE_KEYS):
        add("unknown_key", f"unknown example key {key!r} (allowed: {sorted(_EXAMPLE_KEYS)})")
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        add("missing_messages", "'messages' must be a non-empty list of messages")
        return None
    has_assistant = False
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            add("message_not_object", f"message {index} is {type(message).__name__}, not object")
            continue
        role = message.get("role")
        allowed = _MESSAGE_KEYS.get(role) if isinstance(role, str) else None
        if allowed is None:
            add(
                "unknown_role",
                f"message {index} has role {role!r} (known: {sorted(_MESSAGE_KEYS)})",
            )
            allowed = frozenset().union(*_MESSAGE_KEYS.values())
        for key in sorted(set(message) - allowed):
            add("unknown_key", f"message {index} ({role}) has unknown key {key!r}")
        has_assistant = has_assistant or role == "assistant"
        content = message.get("content")
        calls = role == "assistant" and (message.get("tool_calls") or message.get("function_call"))
        if not calls and (not isinstance(content, str) or not content):
            add("missing_content", f"message {index} ({role}) needs non-empty string content")
        if "weight" in message and (
            isinstance(message["weight"], bool) or message["weight"] not in (0, 1)
        ):
            add("invalid_weight", f"message {index} weight must be 0 or 1")
    if not has_assistant:
        add("no_assistant_message", "example has no assistant message")
    return messages
