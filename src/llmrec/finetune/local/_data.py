"""Chat JSONL in, token ids and an assistant-token mask out, through the model's chat template.

Each line holds ``{"messages": [..., {"role": "assistant", "content": ...}]}`` (what
``llmrec finetune export`` writes). The prompt is every message but the last, rendered with the
model's chat template and its generation prompt; the completion is the rest of the rendered
conversation (the assistant text and the template's end-of-turn tokens). Loss is computed on the
completion tokens only. Examples longer than ``max_seq_len`` are counted and, per ``overlong``,
stop the run with an error naming their lines, are dropped, or are truncated; never silently.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError, DataFormatError

__all__ = [
    "Conversation",
    "TokenizedFile",
    "read_chat_jsonl",
    "render_prompt_completion",
    "template_sha256",
    "tokenize_file",
]

_ROLES = {"system", "user", "assistant"}


@dataclass(frozen=True)
class Conversation:
    """One training example: its 1-based line and its messages (the last is the assistant's)."""

    line: int
    messages: list[dict[str, str]]


@dataclass
class TokenizedFile:
    """The token ids of a file's examples and what happened to the overlong ones."""

    path: str
    input_ids: list[list[int]] = field(default_factory=list)
    completion_mask: list[list[int]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    n_examples: int = 0
    overlong_lines: list[int] = field(default_factory=list)
    dropped: int = 0
    truncated: int = 0

    @property
    def tokens(self) -> int:
        """Tokens one epoch feeds the model."""
        return sum(len(ids) for ids in self.input_ids)

    @property
    def completion_tokens(self) -> int:
        """Tokens one epoch computes the loss on (the assistant's)."""
        return sum(sum(mask) for mask in self.completion_mask)

    def summary(self) -> dict[str, Any]:
        """Counts for the manifest and the dry run."""
        return {
            "path": self.path,
            "examples": self.n_examples,
            "kept": len(self.input_ids),
            "tokens": self.tokens,
            "completion_tokens": self.completion_tokens,
            "overlong": len(self.overlong_lines),
            "dropped": self.dropped,
            "truncated": self.truncated,
        }


def read_chat_jsonl(path: str | Path) -> list[Conversation]:
    """Read a chat JSONL file; a :class:`DataFormatError` names the line of any bad record."""
    src = Path(path)
    if not src.is_file():
        raise DataFormatError("no such file", path=src)
    out: list[Conversation] = []
    with open(src, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"not JSON ({exc.msg})", path=src, line=number) from None
            out.append(Conversation(number, _messages(record, src, number)))
    if not out:
        raise DataFormatError("the file holds no examples", path=src)
    return out


def _messages(record: object, src: Path, number: int) -> list[dict[str, str]]:
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages:
        raise DataFormatError(
            'expected {"messages": [...]} with at least one message', path=src, line=number
        )
    clean: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise DataFormatError(f"messages[{i}] is not an object", path=src, line=number)
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES or not isinstance(content, str):
            raise DataFormatError(
                f"messages[{i}] needs a role in {sorted(_ROLES)} and a string content",
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


def template_sha256(tokenizer: Any) -> str:
    """Hex SHA-256 of the tokenizer's chat template text."""
    template = tokenizer.chat_template
    text = template if isinstance(template, str) else json.dumps(template, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_prompt_completion(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, str]:
    """The conversation as (prompt text with the generation prompt, completion text)."""
    prompt = tokenizer.apply_chat_template(
        messages[:-1], tokenize=False, add_generation_prompt=True
    )
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise ConfigError(
            "the chat template does not render a conversation as its prompt (with the "
            "generation prompt) followed by the answer, so the assistant tokens cannot be told "
            "apart; pass a chat template that does (chat_template=... / --chat-template FILE)"
        )
    return prompt, full[len(prompt) :]


def tokenize_file(
    tokenizer: Any,
    path: str | Path,
    *,
    max_seq_len: int,
    overlong: str,
) -> TokenizedFile:
    """Tokenize every example of ``path``; apply the ``overlong`` policy and count it."""
    conversations = read_chat_jsonl(path)
    out = TokenizedFile(path=str(path), n_examples=len(conversations))
    for conv in conversations:
        prompt, completion = render_prompt_completion(tokenizer, conv.messages)
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
        ids = list(p_ids) + list(c_ids)
        mask = [0] * len(p_ids) + [1] * len(c_ids)
        if len(ids) > max_seq_len:
            out.overlong_lines.append(conv.line)
            if overlong == "drop":
                out.dropped += 1
                continue
            if overlong == "truncate":
                if len(p_ids) >= max_seq_len:
                    out.dropped += 1  # nothing of the answer would be left to learn from
                    continue
                ids, mask = ids[:max_seq_len], mask[:max_seq_len]
                out.truncated += 1
        out.input_ids.append(ids)
        out.completion_mask.append(mask)
        out.lines.append(conv.line)
    if out.overlong_lines and overlong == "error":
        shown = ", ".join(str(n) for n in out.overlong_lines[:10])
        raise DataFormatError(
            f"{len(out.overlong_lines)} example(s) are longer than max_seq_len={max_seq_len} "
            f"tokens (lines {shown}{', ...' if len(out.overlong_lines) > 10 else ''}); raise "
            "--max-seq-len, or pass --overlong drop or --overlong truncate",
            path=path,
        )
    if not out.input_ids:
        raise DataFormatError("no example is left to train on after dropping", path=path)
    return out


def require_file_kind(path: str | Path, method: str) -> None:
    """Stop before loading anything when the file does not suit the method: SFT methods take a
    chat file, ``dpo`` a preference file (told apart by
    :func:`~llmrec.finetune.validate_preferences.file_kind`)."""
    from llmrec.finetune.validate_preferences import file_kind

    kind = file_kind(path)
    if method == "dpo" and kind != "preference":
        raise ConfigError(
            f"{path} is a chat file, not a preference file; --method dpo (method='dpo') trains on "
            "preference pairs written by `llmrec finetune export-preferences` "
            "(export_preference_jsonl); for supervised fine-tuning on a chat file use "
            "--method lora, qlora or full"
        )
    if method != "dpo" and kind == "preference":
        raise ConfigError(
            f"{path} is a preference file (DPO pairs), and --method {method} is supervised "
            "fine-tuning on a chat file (`llmrec finetune export`); to tune on these pairs pass "
            "--method dpo with the supervised model as --model"
        )
