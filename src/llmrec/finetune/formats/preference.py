"""The preference format: OpenAI's preference (DPO) fine-tuning file, one pair a line.

The format is OpenAI's preference input (Together and Fireworks read the same fields)::

    {"input": {"messages": [system, user]},
     "preferred_output": [{"role": "assistant", "content": CHOSEN}],
     "non_preferred_output": [{"role": "assistant", "content": REJECTED}]}

:func:`export_preference_jsonl` builds the pairs with
:func:`~llmrec.finetune.pairs.build_preference_pairs` and writes them atomically, UTF-8 with
``ensure_ascii=False`` and compact separators like the chat export, so the same inputs and seed
give the same bytes. :func:`read_preference_jsonl` reads such a file into
:class:`PreferenceRow` objects; :meth:`PreferenceRow.to_trl` gives the conversational preference
row TRL's ``DPOTrainer`` takes (``prompt``/``chosen``/``rejected`` message lists).

Tokens: DPO trains on two conversations per example, the prompt followed by the preferred
answer and the prompt followed by the non-preferred one, so an example counts both::

    tokens = chat_tokens(input.messages + preferred_output)
           + chat_tokens(input.messages + non_preferred_output)

OpenAI bills preference fine-tuning by the tokens of the training file times the epochs (its
billing guide); it does not publish how the shared prompt is counted, so counting it twice makes
the estimate an upper one. The billed figure after the job comes from the job's
``trained_tokens``.

The checks (:func:`validate_preference_jsonl`) follow OpenAI's preference input format (API
reference, "The preference input format"; guide "Direct preference optimization": one-turn
examples whose preferred and non-preferred messages are the final assistant message), with the
chat checks' codes where they mean the same:

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

``example_tokens`` of the report holds each example's count (both conversations).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from llmrec._io import atomic_open
from llmrec.errors import ConfigError, DataFormatError
from llmrec.finetune.dpo_models import DPO_DEFAULT_MODEL, DPO_MODELS
from llmrec.finetune.formats._jsonl import numbered_lines, parse_object
from llmrec.finetune.formats.base import AddFinding, FileFormat, Messages
from llmrec.finetune.formats.chat import (
    EXAMPLE_TOKEN_LIMITS,
    MESSAGE_KEYS,
    TRAINED_ROLES,
    check_message,
)
from llmrec.finetune.pairs import AnswerLike, PairSummary, build_preference_pairs

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings
    from llmrec.prompts.template import PromptTemplate
    from llmrec.truth.dataset import ProfileDataset

__all__ = [
    "DPO_DEFAULT_MODEL",
    "PREFERENCE",
    "PREFERENCE_TOKEN_LIMITS",
    "PreferenceFormat",
    "PreferenceRow",
    "count_preference_tokens",
    "estimate_preference_cost",
    "export_preference_jsonl",
    "preference_sequences",
    "read_preference_jsonl",
    "validate_preference_jsonl",
]

PREFERENCE_TOKEN_LIMITS: Mapping[str, int] = {
    **EXAMPLE_TOKEN_LIMITS,
    **dict.fromkeys(DPO_MODELS, 65_536),
}
"""Maximum tokens per training conversation, by base model (OpenAI fine-tuning guide)."""

Message = dict[str, str]

_TOP_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
_INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
_OUTPUTS = (("preferred_output", "preferred"), ("non_preferred_output", "non-preferred"))


@dataclass(frozen=True)
class PreferenceRow:
    """One preference example: the prompt messages and the two assistant messages."""

    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]

    def to_trl(self) -> dict[str, list[Message]]:
        """``{"prompt": [...], "chosen": [...], "rejected": [...]}`` (TRL's conversational
        preference format; ``datasets.Dataset.from_list`` takes a list of these)."""
        return {
            "prompt": [dict(m) for m in self.prompt],
            "chosen": [dict(m) for m in self.chosen],
            "rejected": [dict(m) for m in self.rejected],
        }

    def to_openai(self) -> dict[str, Any]:
        """The line object of OpenAI's preference format."""
        return {
            "input": {"messages": [dict(m) for m in self.prompt]},
            "preferred_output": [dict(m) for m in self.chosen],
            "non_preferred_output": [dict(m) for m in self.rejected],
        }


def _check_prompt(messages: Any, add: AddFinding) -> None:
    if not isinstance(messages, list) or not messages:
        add("missing_messages", "'input.messages' must be a non-empty list of messages")
        return
    for index, message in enumerate(messages):
        check_message(message, f"input message {index}", add)
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") != "user":
        add(
            "prompt_not_user_last",
            f"the last input message has role {last.get('role')!r}; DPO examples are one turn: "
            "the input must end with the user's message",
        )


def _check_output(value: Any, key: str, add: AddFinding) -> str | None:
    """Record the problems of one output; return its content when it is usable text."""
    if not isinstance(value, list) or len(value) != 1:
        add("invalid_output", f"{key!r} must be a list holding exactly one assistant message")
        return None
    message = value[0]
    if not isinstance(message, dict):
        add("message_not_object", f"{key}[0] is {type(message).__name__}, not object")
        return None
    if message.get("role") != "assistant":
        add("output_not_assistant", f"{key}[0] has role {message.get('role')!r}")
    for extra in sorted(set(message) - MESSAGE_KEYS["assistant"]):
        add("unknown_key", f"{key}[0] has unknown key {extra!r}")
    content = message.get("content")
    if not isinstance(content, str) or not content:
        add("missing_content", f"{key}[0] needs non-empty string content")
        return None
    return content


def preference_sequences(
    example: Mapping[str, Any],
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The two conversations DPO trains on: input + preferred, input + non-preferred.

    Only object messages are kept; a missing or malformed part counts as empty.
    """
    (_, preferred), (_, non_preferred) = PREFERENCE.sequences(example)
    return preferred, non_preferred


def export_preference_jsonl(
    dataset: ProfileDataset,
    template: PromptTemplate,
    catalog: Catalog,
    path: str | Path,
    *,
    rejected: str = "popularity",
    ratings: Ratings | None = None,
    seed: int = 0,
    answers: Mapping[int, str | AnswerLike] | None = None,
) -> PairSummary:
    """Write one preference pair per kept example of ``dataset`` to ``path``.

    Returns the :class:`~llmrec.finetune.pairs.PairSummary` (pairs written, examples dropped
    by reason, the path). See :func:`~llmrec.finetune.pairs.build_preference_pairs` for
    ``rejected``, ``ratings``, ``seed`` and ``answers``. When every example is dropped nothing
    is written and :class:`~llmrec.errors.ConfigError` says why.
    """
    out = Path(path)
    pairs, summary = build_preference_pairs(
        dataset,
        template,
        catalog,
        rejected=rejected,
        ratings=ratings,
        seed=seed,
        answers=answers,
    )
    if not pairs:
        raise ConfigError(f"no preference pairs to write to {out}: {summary}")
    with atomic_open(out, "w") as handle:
        for pair in pairs:
            line = json.dumps(pair.to_openai(), ensure_ascii=False, separators=(",", ":"))
            handle.write(line + "\n")
    summary.path = str(out)
    return summary


def read_preference_jsonl(path: str | Path) -> list[PreferenceRow]:
    """Read a preference file into :class:`PreferenceRow` objects, in file order.

    Each line must be an object whose ``input.messages`` is a non-empty list of messages and
    whose ``preferred_output`` and ``non_preferred_output`` each hold one assistant message
    (not the same text), every message with string ``role`` and ``content`` and the prompt's
    roles among system, user and assistant (as the chat reader's); otherwise
    :class:`~llmrec.errors.DataFormatError` names the line and field
    (:func:`validate_preference_jsonl` lists every problem at once). Blank lines are skipped.
    """
    return [row for _, row in read_numbered_rows(path)]


def read_numbered_rows(path: str | Path) -> list[tuple[int, PreferenceRow]]:
    """:func:`read_preference_jsonl` with each row's 1-based line number."""
    src = Path(path)
    return [
        (lineno, _row(line, src, lineno))
        for lineno, line in numbered_lines(src, "preference file not found")
    ]


def _row(line: str, src: Path, lineno: int) -> PreferenceRow:
    def bad(message: str) -> DataFormatError:
        return DataFormatError(message, path=src, line=lineno, text=line[:80])

    obj = parse_object(line, src, lineno)
    given = obj.get("input")
    messages = given.get("messages") if isinstance(given, dict) else None
    if not isinstance(messages, list) or not messages:
        raise bad("'input.messages' must be a non-empty list of messages")
    prompt = [_message(m, f"input.messages[{i}]", bad) for i, m in enumerate(messages)]
    for i, message in enumerate(prompt):
        if message["role"] not in TRAINED_ROLES:
            raise bad(
                f"input.messages[{i}] has role {message['role']!r}; a training prompt's roles "
                f"are {', '.join(sorted(TRAINED_ROLES))}"
            )
    outputs: list[list[Message]] = []
    for key, _ in _OUTPUTS:
        value = obj.get(key)
        if not isinstance(value, list) or len(value) != 1:
            raise bad(f"{key!r} must be a list of exactly one assistant message")
        message = _message(value[0], f"{key}[0]", bad)
        if message["role"] != "assistant":
            raise bad(f"{key}[0] has role {message['role']!r}; it must be 'assistant'")
        outputs.append([message])
    if outputs[0][0]["content"] == outputs[1][0]["content"]:
        raise bad("the preferred and non-preferred answers are the same text; DPO learns nothing")
    return PreferenceRow(prompt=prompt, chosen=outputs[0], rejected=outputs[1])


def _message(value: Any, where: str, bad: Callable[[str], DataFormatError]) -> Message:
    if not isinstance(value, dict):
        raise bad(f"{where} must be an object")
    role, content = value.get("role"), value.get("content")
    if not isinstance(role, str) or not isinstance(content, str):
        raise bad(f"{where} needs string 'role' and 'content'")
    return {"role": role, "content": content}


class PreferenceFormat(FileFormat):
    """OpenAI's preference (DPO) format; see the module docstring."""

    name = "preference"
    noun = "preference file"
    label = "preference (DPO) file; "
    default_model = DPO_DEFAULT_MODEL
    token_limits = PREFERENCE_TOKEN_LIMITS
    # a model allowed past the DPO list is checked against the limit of the documented ones
    unlisted_model_limit = PREFERENCE_TOKEN_LIMITS[DPO_MODELS[0]]
    shape = "an object with an 'input' object"
    validator = "validate_preference_jsonl"
    writer = export_preference_jsonl
    reader = read_preference_jsonl
    wrong_file_hints: ClassVar[Mapping[str, str]] = {
        "chat": (
            "{path} is a chat file, not a preference file; --method {method} "
            "(method='{method}') trains on preference pairs written by `llmrec finetune "
            "export-preferences` (export_preference_jsonl); for supervised fine-tuning on a "
            "chat file use --method lora, qlora or full"
        )
    }

    def recognizes(self, first: Mapping[str, Any]) -> bool:
        return "messages" not in first and bool(_TOP_KEYS & set(first))

    def check(self, example: dict[str, Any], add: AddFinding) -> bool:
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
        contents = [_check_output(example.get(key), key, add) for key, _ in _OUTPUTS]
        if None not in contents and contents[0] == contents[1]:
            add("identical_outputs", "preferred and non-preferred outputs are the same text")
        return True

    def sequences(self, example: Mapping[str, Any]) -> list[tuple[str, Messages]]:
        given = example.get("input")
        messages = given.get("messages") if isinstance(given, dict) else None
        prompt: Messages = []
        if isinstance(messages, list):
            prompt = [m for m in messages if isinstance(m, dict)]
        out: list[tuple[str, Messages]] = []
        for key, name in _OUTPUTS:
            value = example.get(key)
            answer: Messages = []
            if isinstance(value, list):
                answer = [m for m in value if isinstance(m, dict)]
            out.append((f"input + {name} output", prompt + answer))
        return out

    def well_formed(self, example: Mapping[str, Any]) -> bool:
        return isinstance(example.get("input"), dict)


PREFERENCE = PreferenceFormat()
"""The preference (DPO) format."""

validate_preference_jsonl = PREFERENCE.validate
"""Run OpenAI's documented checks on a preference (DPO) JSONL file (module docstring):
``validate_preference_jsonl(path, *, model=DPO_DEFAULT_MODEL, min_examples=10,
max_example_tokens=None)``. See :meth:`FileFormat.validate
<llmrec.finetune.formats.FileFormat.validate>`."""

estimate_preference_cost = PREFERENCE.estimate_cost
"""Count the tokens of a preference file and price ``n_epochs`` of DPO training on it:
``estimate_preference_cost(path, *, model=DPO_DEFAULT_MODEL, n_epochs=2, prices=None)``."""

count_preference_tokens = PREFERENCE.count_tokens
"""Tokens of one preference example, both conversations (module formula):
``count_preference_tokens(example, *, encoding=None)``."""
