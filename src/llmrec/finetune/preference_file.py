"""Preference (DPO) fine-tuning files: write them from a dataset, read them back.

The format is OpenAI's preference input, one JSON object a line (Together and Fireworks read
the same fields)::

    {"input": {"messages": [system, user]},
     "preferred_output": [{"role": "assistant", "content": CHOSEN}],
     "non_preferred_output": [{"role": "assistant", "content": REJECTED}]}

:func:`export_preference_jsonl` builds the pairs with
:func:`~llmrec.finetune.pairs.build_preference_pairs` and writes them atomically, UTF-8 with
``ensure_ascii=False`` and compact separators like the chat export, so the same inputs and seed
give the same bytes. :func:`read_preference_jsonl` reads such a file into
:class:`PreferenceRow` objects; :meth:`PreferenceRow.to_trl` gives the conversational preference
row TRL's ``DPOTrainer`` takes (``prompt``/``chosen``/``rejected`` message lists).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec._io import atomic_open
from llmrec.errors import ConfigError, DataFormatError
from llmrec.finetune.pairs import AnswerLike, PairSummary, build_preference_pairs

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings
    from llmrec.prompts.template import PromptTemplate
    from llmrec.truth.dataset import ProfileDataset

__all__ = ["PreferenceRow", "export_preference_jsonl", "read_preference_jsonl"]

Message = dict[str, str]


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
    whose ``preferred_output`` and ``non_preferred_output`` each hold one assistant message,
    every message with string ``role`` and ``content``; otherwise
    :class:`~llmrec.errors.DataFormatError` names the line and field
    (:func:`~llmrec.finetune.validate_preference_jsonl` lists every problem at once).
    Blank lines are skipped.
    """
    src = Path(path)
    if not src.is_file():
        raise DataFormatError("preference file not found", path=src)
    rows: list[PreferenceRow] = []
    with open(src, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if line.strip():
                rows.append(_row(line, src, lineno))
    return rows


def _row(line: str, src: Path, lineno: int) -> PreferenceRow:
    def bad(message: str) -> DataFormatError:
        return DataFormatError(message, path=src, line=lineno, text=line[:80])

    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise bad("expected a JSON object")
    given = obj.get("input")
    messages = given.get("messages") if isinstance(given, dict) else None
    if not isinstance(messages, list) or not messages:
        raise bad("'input.messages' must be a non-empty list of messages")
    prompt = [_message(m, f"input.messages[{i}]", bad) for i, m in enumerate(messages)]
    outputs: list[list[Message]] = []
    for key in ("preferred_output", "non_preferred_output"):
        value = obj.get(key)
        if not isinstance(value, list) or len(value) != 1:
            raise bad(f"{key!r} must be a list of exactly one assistant message")
        message = _message(value[0], f"{key}[0]", bad)
        if message["role"] != "assistant":
            raise bad(f"{key}[0] has role {message['role']!r}; it must be 'assistant'")
        outputs.append([message])
    return PreferenceRow(prompt=prompt, chosen=outputs[0], rejected=outputs[1])


def _message(value: Any, where: str, bad: Any) -> Message:
    if not isinstance(value, dict):
        raise bad(f"{where} must be an object")
    role, content = value.get("role"), value.get("content")
    if not isinstance(role, str) or not isinstance(content, str):
        raise bad(f"{where} needs string 'role' and 'content'")
    return {"role": role, "content": content}
