"""Reading JSON Lines the way every fine-tuning file reader here does: numbered, non-blank lines,
each one JSON object, and a :class:`~llmrec.errors.DataFormatError` naming the line otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmrec.errors import DataFormatError

__all__ = ["decode_line", "numbered_lines", "parse_object"]


def decode_line(raw: bytes, src: str | Path, lineno: int) -> str:
    """One line of a JSONL file as text; bytes that are not UTF-8 raise a
    :class:`~llmrec.errors.DataFormatError` naming the file, the line and the bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            f"not UTF-8 ({exc.reason} at byte {exc.start + 1}); JSONL files must be UTF-8",
            path=src,
            line=lineno,
            text=raw[:80].decode("latin-1"),
        ) from None


def numbered_lines(path: str | Path, missing: str) -> list[tuple[int, str]]:
    """The non-blank lines of the UTF-8 file ``path`` with their 1-based numbers.

    Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (as a text-mode read counts them). A missing
    file raises :class:`~llmrec.errors.DataFormatError` with the text ``missing``; a line that
    is not UTF-8 one naming that line (:func:`decode_line`).
    """
    src = Path(path)
    if not src.is_file():
        raise DataFormatError(missing, path=src)
    numbered = enumerate(src.read_bytes().splitlines(keepends=True), 1)
    decoded = ((number, decode_line(raw, src, number)) for number, raw in numbered)
    return [(number, line) for number, line in decoded if line.strip()]


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
