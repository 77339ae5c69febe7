"""The chat format: OpenAI's supervised fine-tuning file, ``{"messages": [...]}`` a line.

Written by :func:`export_chat_jsonl`: one line per example, in dataset order,
``{"messages": [system, user, assistant]}`` built by
:meth:`llmrec.prompts.PromptTemplate.training_example` (T + F, the profile C, the gold list),
UTF-8 (``ensure_ascii=False``, so accented titles stay readable), written atomically. Read back
by :func:`read_chat_jsonl` as :class:`Conversation` rows (the prompt, and the assistant turn to
learn, which is the gold list): supervised fine-tuning trains on the whole conversation, and a
method that trains from prompts alone takes the same file.

The checks (:func:`validate_chat_jsonl`) follow OpenAI's chat fine-tuning input format (API
reference, "The chat input format") and the format checks of the OpenAI cookbook notebook
"Data preparation and analysis for chat model fine-tuning". Each finding names its 1-based line
and a stable code:

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

Training price: the example's exact tokens (``o200k_base`` plus the chat overhead) times the
epochs; validation-file tokens are free.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from llmrec._io import atomic_open
from llmrec._progress import progress
from llmrec.errors import DataFormatError
from llmrec.finetune.formats._jsonl import numbered_lines, parse_object
from llmrec.finetune.formats.base import AddFinding, FileFormat, Messages
from llmrec.openai_api.models import DEFAULT_MODEL

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.prompts.template import PromptTemplate
    from llmrec.truth.dataset import ProfileDataset

__all__ = [
    "CHAT",
    "EXAMPLE_TOKEN_LIMITS",
    "MESSAGE_KEYS",
    "TRAINED_ROLES",
    "ChatFormat",
    "Conversation",
    "check_message",
    "estimate_training_cost",
    "export_chat_jsonl",
    "read_chat_jsonl",
    "validate_chat_jsonl",
]

EXAMPLE_TOKEN_LIMITS: Mapping[str, int] = {
    DEFAULT_MODEL: 65_536,
    "gpt-4o-2024-08-06": 65_536,
}
"""Maximum tokens per training example, by base model (OpenAI fine-tuning guide)."""

MESSAGE_KEYS: Mapping[str, frozenset[str]] = {
    "system": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset(
        {"role", "content", "name", "weight", "tool_calls", "function_call", "refusal"}
    ),
    "tool": frozenset({"role", "content", "tool_call_id"}),
    "function": frozenset({"role", "content", "name"}),
}
"""The keys a chat message of each role may hold (OpenAI's chat input format)."""

ANY_MESSAGE_KEY = frozenset().union(*MESSAGE_KEYS.values())

_EXAMPLE_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
TRAINED_ROLES = frozenset({"system", "user", "assistant"})
"""The roles a training file's messages may have (tool and function turns are not trained on)."""


@dataclass(frozen=True)
class Conversation:
    """One training example: its 1-based line and its messages (the last is the assistant's)."""

    line: int
    messages: list[dict[str, str]]

    @property
    def prompt(self) -> list[dict[str, str]]:
        """Every message before the assistant's answer."""
        return self.messages[:-1]

    @property
    def answer(self) -> str:
        """The assistant's answer (the gold list, in an exported file)."""
        return self.messages[-1]["content"]


def check_message(message: Any, where: str, add: AddFinding) -> str | None:
    """Record the problems of one chat message (``where`` names it); return its role.

    The role must be known, every key allowed for it (:data:`MESSAGE_KEYS`), the content a
    non-empty string (an assistant message that calls a tool or function may omit it), and an
    assistant ``weight`` 0 or 1.
    """
    if not isinstance(message, dict):
        add("message_not_object", f"{where} is {type(message).__name__}, not object")
        return None
    role = message.get("role")
    allowed = MESSAGE_KEYS.get(role) if isinstance(role, str) else None
    if allowed is None:
        add("unknown_role", f"{where} has role {role!r} (known: {sorted(MESSAGE_KEYS)})")
        allowed = ANY_MESSAGE_KEY
    for key in sorted(set(message) - allowed):
        add("unknown_key", f"{where} ({role}) has unknown key {key!r}")
    content = message.get("content")
    calls = role == "assistant" and (message.get("tool_calls") or message.get("function_call"))
    if not calls and (not isinstance(content, str) or not content):
        add("missing_content", f"{where} ({role}) needs non-empty string content")
    if "weight" in message and (
        isinstance(message["weight"], bool) or message["weight"] not in (0, 1)
    ):
        add("invalid_weight", f"{where} weight must be 0 or 1")
    return role if isinstance(role, str) else None


def export_chat_jsonl(
    dataset: ProfileDataset,
    template: PromptTemplate,
    catalog: Catalog,
    path: str | Path,
    *,
    show_progress: bool = False,
) -> Path:
    """Write one chat example per user of ``dataset`` to ``path``; return the path.

    Raises :class:`~llmrec.errors.DataFormatError` naming the user when a profile or gold movie
    is missing from ``catalog`` or an example has an empty profile or gold list (OpenAI rejects
    empty messages).
    """
    out = Path(path)
    with atomic_open(out, "w") as handle:
        examples = iter(dataset)  # the bar iterates a plain iterator, not the data set
        for example in progress(examples, enabled=show_progress, total=len(dataset), desc="export"):
            if not example.profile or not example.gold:
                raise DataFormatError(
                    f"user {example.user_id} has an empty "
                    f"{'profile' if not example.profile else 'gold list'}; "
                    "filter such users before exporting",
                    path=out,
                )
            try:
                record = template.training_example(example.profile, example.gold, catalog)
            except KeyError as exc:
                raise DataFormatError(f"user {example.user_id}: {exc.args[0]}", path=out) from None
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    return out


def read_chat_jsonl(path: str | Path) -> list[Conversation]:
    """Read a chat JSONL file for training: every message needs a role among system, user and
    assistant and string content, and the last is the assistant's answer after at least one
    other message; otherwise :class:`~llmrec.errors.DataFormatError` names the line."""
    src = Path(path)
    out = [
        Conversation(number, _messages(parse_object(raw, src, number), src, number))
        for number, raw in numbered_lines(src, "no such file")
    ]
    if not out:
        raise DataFormatError("the file holds no examples", path=src)
    return out


def _messages(record: dict[str, Any], src: Path, number: int) -> list[dict[str, str]]:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DataFormatError(
            'expected {"messages": [...]} with at least one message', path=src, line=number
        )
    clean: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise DataFormatError(f"messages[{i}] is not an object", path=src, line=number)
        role, content = message.get("role"), message.get("content")
        if role not in TRAINED_ROLES or not isinstance(content, str):
            raise DataFormatError(
                f"messages[{i}] needs a role in {sorted(TRAINED_ROLES)} and a string content",
                path=src,
                line=number,
                text=json.dumps(message, ensure_ascii=False)[:200],
            )
        clean.append({"role": role, "content": content})
    if clean[-1]["role"] != "assistant" or len(clean) < 2:
        raise DataFormatError(
            "the last message must be the assistant's answer, after at least one other message",
            path=src,
            line=number,
        )
    return clean


class ChatFormat(FileFormat):
    """OpenAI's chat fine-tuning format; see the module docstring."""

    name = "chat"
    noun = "fine-tuning file"
    default_model = DEFAULT_MODEL
    token_limits = EXAMPLE_TOKEN_LIMITS
    shape = "an object with a 'messages' list"
    validator = "validate_chat_jsonl"
    writer = export_chat_jsonl
    reader = read_chat_jsonl
    wrong_file_hints: ClassVar[Mapping[str, str]] = {
        "preference": (
            "{path} is a preference file (DPO pairs), and --method {method} is supervised "
            "fine-tuning on a chat file (`llmrec finetune export`); to tune on these pairs "
            "pass --method dpo with the supervised model as --model"
        )
    }

    def recognizes(self, first: Mapping[str, Any]) -> bool:
        return "messages" in first

    def check(self, example: dict[str, Any], add: AddFinding) -> bool:
        for key in sorted(set(example) - _EXAMPLE_KEYS):
            add("unknown_key", f"unknown example key {key!r} (allowed: {sorted(_EXAMPLE_KEYS)})")
        messages = example.get("messages")
        if not isinstance(messages, list) or not messages:
            add("missing_messages", "'messages' must be a non-empty list of messages")
            return False
        roles = [check_message(message, f"message {i}", add) for i, message in enumerate(messages)]
        if "assistant" not in roles:
            add("no_assistant_message", "example has no assistant message")
        return True

    def sequences(self, example: Mapping[str, Any]) -> list[tuple[str, Messages]]:
        messages = example.get("messages")
        kept: Messages = []
        if isinstance(messages, list):
            kept = [m for m in messages if isinstance(m, dict)]
        return [("example", kept)]

    def well_formed(self, example: Mapping[str, Any]) -> bool:
        return isinstance(example.get("messages"), list)


CHAT = ChatFormat()
"""The chat format."""

validate_chat_jsonl = CHAT.validate
"""Run OpenAI's documented checks on a chat fine-tuning JSONL file (module docstring):
``validate_chat_jsonl(path, *, model=DEFAULT_MODEL, min_examples=10, max_example_tokens=None)``.
See :meth:`FileFormat.validate <llmrec.finetune.formats.FileFormat.validate>`."""

estimate_training_cost = CHAT.estimate_cost
"""Count the tokens of a chat fine-tuning file and price ``n_epochs`` of training on it:
``estimate_training_cost(path, *, model=DEFAULT_MODEL, n_epochs=2, prices=None)``. See
:meth:`FileFormat.estimate_cost <llmrec.finetune.formats.FileFormat.estimate_cost>`."""
