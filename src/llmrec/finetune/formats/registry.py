"""The formats by name, the one place a file's format is recognised, and the one table that maps
a fine-tuning method to the format it trains on.

A file's format is read from the keys of its first non-blank line (as TRL's ``data_utils``
recognises dataset formats): the first registered format that :meth:`recognizes
<llmrec.finetune.formats.FileFormat.recognizes>` them wins, and a file no format recognises
(missing, empty, or a first line that is not a JSON object) counts as ``chat``, whose checks
then report the problem.

Methods: hosted ``supervised`` and the local adapters ``lora``, ``qlora`` and ``full`` are
supervised fine-tuning (``sft``) and take the chat file; ``dpo`` takes the preference file;
``grpo`` trains from the chat file's prompts (reinforcement learning with the assistant turn, the
gold list, as the reward's reference) and takes the chat file too.

The public names are listed by the package, :mod:`llmrec.finetune.formats`.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmrec.errors import ConfigError, DataFormatError, DataNotFoundError
from llmrec.finetune.formats.base import FileFormat
from llmrec.finetune.formats.chat import CHAT
from llmrec.finetune.formats.preference import PREFERENCE

_FORMATS: dict[str, FileFormat] = {CHAT.name: CHAT, PREFERENCE.name: PREFERENCE}

METHOD_FORMATS: dict[str, str] = {
    "supervised": "chat",
    "sft": "chat",
    "lora": "chat",
    "qlora": "chat",
    "full": "chat",
    "dpo": "preference",
    "grpo": "chat",
}
"""Fine-tuning method (hosted or local) -> the name of the format it trains on."""


def register_format(fmt: FileFormat) -> FileFormat:
    """Add ``fmt`` under ``fmt.name`` (replacing a format of that name); returns it."""
    _FORMATS[fmt.name] = fmt
    return fmt


def register_method(method: str, format_name: str) -> None:
    """Make ``method`` train on the registered format ``format_name``."""
    get_format(format_name)
    METHOD_FORMATS[method] = format_name


def available_formats() -> list[str]:
    """The registered format names, in registration order."""
    return list(_FORMATS)


def get_format(name: str) -> FileFormat:
    """The registered format called ``name``; ``ConfigError`` naming the known ones otherwise."""
    fmt = _FORMATS.get(name)
    if fmt is None:
        raise ConfigError(f"unknown fine-tuning file format {name!r} (known: {sorted(_FORMATS)})")
    return fmt


def format_for_method(method: str) -> FileFormat:
    """The format the fine-tuning ``method`` trains on."""
    name = METHOD_FORMATS.get(method)
    if name is None:
        raise ConfigError(
            f"unknown fine-tuning method {method!r} (known: {sorted(METHOD_FORMATS)})"
        )
    return get_format(name)


def detect_format(path: str | Path) -> FileFormat:
    """The format of the file at ``path``, from its first non-blank line (module docstring)."""
    src = Path(path)
    if not src.is_file():
        return CHAT
    with open(src, encoding="utf-8", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), None)
    try:
        obj = json.loads(first) if first is not None else None
    except json.JSONDecodeError:
        return CHAT
    if isinstance(obj, dict):
        for fmt in _FORMATS.values():
            if fmt.recognizes(obj):
                return fmt
    return CHAT


def require_format(path: str | Path, method: str) -> FileFormat:
    """The format ``method`` trains on, after checking that ``path`` is such a file; a
    :class:`~llmrec.errors.ConfigError` says which file the method takes otherwise (a
    :class:`~llmrec.errors.DataNotFoundError` or :class:`~llmrec.errors.DataFormatError`
    when the file is missing or empty)."""
    expected = format_for_method(method)
    src = Path(path)
    if not src.is_file():
        raise DataNotFoundError(
            f"{src}: no such file; method {method!r} trains on a {expected.name} file"
        )
    with open(src, "rb") as handle:
        empty = not any(line.strip() for line in handle)
    if empty:
        raise DataFormatError(
            f"the file is empty; method {method!r} trains on a {expected.name} file with one "
            "example a line",
            path=src,
        )
    found = detect_format(path)
    if found is not expected:
        raise ConfigError(expected.wrong_file_help(path, method, found))
    return expected
