"""Which text encoding a titles file is in, and its lines decoded with it.

The Netflix Prize ``movie_titles.csv`` is ISO-8859-1, but copies re-saved by editors and
spreadsheets are UTF-8 (often with a byte order mark) or Windows cp1252. Decoding one as another
gives mojibake without any error (``CafÃ©``, ``'\\x92'``), so the encoding is detected unless the
caller names it:

1. a UTF-8 byte order mark, or bytes that are valid UTF-8 → ``"utf-8"`` (plain ASCII included);
2. otherwise bytes 0x80-0x9F (control characters in ISO-8859-1, quotes and dashes in cp1252),
   all of them defined in cp1252 → ``"cp1252"``;
3. otherwise → ``"iso-8859-1"``.
"""

from __future__ import annotations

import re
from pathlib import Path

from llmrec.errors import DataFormatError

__all__ = ["decode_titles", "detect_encoding"]

_BOM = b"\xef\xbb\xbf"
_C1 = re.compile(rb"[\x80-\x9f]")
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


def detect_encoding(raw: bytes) -> str:
    """The encoding of ``raw`` by the rules in the module docstring."""
    if raw.startswith(_BOM):
        return "utf-8"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    c1 = set(b"".join(_C1.findall(raw)))
    if c1 and not c1 & _CP1252_UNDEFINED:
        return "cp1252"
    return "iso-8859-1"


def decode_titles(path: Path, raw: bytes, encoding: str | None) -> tuple[list[str], str]:
    """The lines of ``raw`` (without line ends; ``\\r\\n`` too) and the encoding used.

    A leading UTF-8 byte order mark is dropped. A line that does not decode with the given
    ``encoding`` raises :class:`DataFormatError` naming the file and line.
    """
    used = detect_encoding(raw) if encoding is None else encoding
    if raw.startswith(_BOM) and used.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig"):
        raw = raw[len(_BOM) :]
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out: list[str] = []
    for number, data in enumerate(lines, start=1):
        data = data[:-1] if data.endswith(b"\r") else data
        try:
            out.append(data.decode(used))
        except UnicodeDecodeError as exc:
            raise DataFormatError(
                f"not {used}: {exc.reason}; pass encoding= with the file's encoding",
                path=path,
                line=number,
                text=data.decode("latin-1"),
            ) from None
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r}") from None
    return out, used
