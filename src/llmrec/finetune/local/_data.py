"""Chat JSONL in, token ids and an assistant-token mask out, through the model's chat template.

Each line holds ``{"messages": [..., {"role": "assistant", "content": ...}]}`` (what
``llmrec finetune export`` writes), read by :func:`llmrec.finetune.formats.chat.read_chat_jsonl`
(re-exported here with :class:`Conversation`). The prompt is every message but the last, rendered
with the model's chat template and its generation prompt; the completion is the rest of the rendered
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
from llmrec.finetune.formats.chat import Conversation, read_chat_jsonl

__all__ = [
    "Conversation",
    "FileCounts",
    "TokenizedFile",
    "overlong_error",
    "read_chat_jsonl",
    "render_prompt_completion",
    "require_file_kind",
    "template_sha256",
    "tokenize_file",
]


@dataclass
class FileCounts:
    """What was read from a training file: its examples, the ones kept, their tokens, and what
    happened to the overlong ones (the manifest's and the dry run's figures)."""

    path: str
    lines: list[int] = field(default_factory=list)
    n_examples: int = 0
    overlong_lines: list[int] = field(default_factory=list)
    dropped: int = 0
    truncated: int = 0

    @property
    def kept(self) -> int:
        """Examples left to train on."""
        return len(self.lines)

    @property
    def tokens(self) -> int:
        """Tokens one epoch feeds the model."""
        raise NotImplementedError

    @property
    def completion_tokens(self) -> int:
        """Tokens one epoch computes the loss on."""
        raise NotImplementedError

    def fit(self, line: int, prompt: int, length: int, max_seq_len: int, overlong: str) -> str:
        """What the ``overlong`` policy does with the example on ``line`` (``prompt`` tokens of
        prompt, ``length`` in all): ``"keep"``, ``"drop"`` or ``"truncate"``; counted here.

        Truncation keeps the first ``max_seq_len`` tokens; an example whose prompt alone fills
        them is dropped instead (nothing of the answer would be left to learn from).
        """
        if length <= max_seq_len:
            return "keep"
        self.overlong_lines.append(line)
        if overlong == "drop" or (overlong == "truncate" and prompt >= max_seq_len):
            self.dropped += 1
            return "drop"
        if overlong == "truncate":
            self.truncated += 1
            return "truncate"
        return "keep"

    def finish(self, max_seq_len: int, overlong: str, what: str) -> None:
        """Refuse overlong ``what`` (examples, pairs) under ``"error"``, or an empty result."""
        if self.overlong_lines and overlong == "error":
            raise overlong_error(self.path, self.overlong_lines, max_seq_len, what)
        if not self.lines:
            raise DataFormatError(f"no {what} is left to train on after dropping", path=self.path)

    def summary(self) -> dict[str, Any]:
        """Counts for the manifest and the dry run."""
        return {
            "path": self.path,
            "examples": self.n_examples,
            "kept": self.kept,
            "tokens": self.tokens,
            "completion_tokens": self.completion_tokens,
            "overlong": len(self.overlong_lines),
            "dropped": self.dropped,
            "truncated": self.truncated,
        }


@dataclass
class TokenizedFile(FileCounts):
    """The token ids of a chat file's examples and their assistant-token masks."""

    input_ids: list[list[int]] = field(default_factory=list)
    completion_mask: list[list[int]] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        """Tokens one epoch feeds the model."""
        return sum(len(ids) for ids in self.input_ids)

    @property
    def completion_tokens(self) -> int:
        """Tokens one epoch computes the loss on (the assistant's)."""
        return sum(sum(mask) for mask in self.completion_mask)


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
        action = out.fit(conv.line, len(p_ids), len(ids), max_seq_len, overlong)
        if action == "drop":
            continue
        if action == "truncate":
            ids, mask = ids[:max_seq_len], mask[:max_seq_len]
        out.input_ids.append(ids)
        out.completion_mask.append(mask)
        out.lines.append(conv.line)
    out.finish(max_seq_len, overlong, "example")
    return out


def require_file_kind(path: str | Path, method: str) -> None:
    """Stop before loading anything when the file does not suit the method (the one check of
    :func:`~llmrec.finetune.formats.require_format`)."""
    from llmrec.finetune.formats.registry import require_format

    require_format(path, method)


def overlong_error(
    path: str | Path, lines: list[int], max_seq_len: int, what: str
) -> DataFormatError:
    """The refusal of ``overlong="error"``: how many ``what`` (examples, pairs) are too long,
    and their first lines."""
    shown = ", ".join(str(n) for n in lines[:10])
    return DataFormatError(
        f"{len(lines)} {what}(s) are longer than max_seq_len={max_seq_len} tokens "
        f"(lines {shown}{', ...' if len(lines) > 10 else ''}); raise "
        "--max-seq-len, or pass --overlong drop or --overlong truncate",
        path=path,
    )
