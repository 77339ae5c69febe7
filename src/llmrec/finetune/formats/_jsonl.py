"""Reading JSON Lines the way every fine-tuning file reader here does: numbered, non-blank lines,
each one JSON object, and a :class:`~llmrec.errors.DataFormatError` naming the line otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmrec.errors import DataFormatError

__all__ = ["numbered_lines", "parse_object"]


def numbered_lines(path: str | Path, missing: str) -> list[tuple[int, str]]:
    """The non-blank lines of the UTF-8 file ``path`` with their 1-based numbers.

    A missing file raises :class:`~llmrec.errors.DataFormatError` with the text ``missing``.
    """
    src = Path(path)
    if not src.is_file():
        raise DataFormatError(missing, path=src)
    with open(src, encoding="utf-8") as handle:
        return [(number, line) for number, line in enumerate(handle, 1) if line.strip()]


def parse_object(line: str, src: str | Path, lineno: int) -> dict[str, Any]:
    """``line`` as a JSON object; otherwise an error naming the file, the line and its text."""
    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            f"not valid JSON ({exc.msg})", path=src, line=lineno, text=line[:80]
        ) from None
    if not isinstance(obj, dict):
        raise DataFormatError("expected a JSON object", path=src, line=lineno, text=line[:80])
    return obj
