"""Type stub of the C parser built from ``_netflix_parse.c`` (see ``llmrec.data._parse``)."""

from typing_extensions import Buffer

def count(data: Buffer, kind: int, keep: Buffer | None, exact: bool, /) -> tuple[int, int]:
    """(records ``parse`` writes for well-formed input, number of newline bytes).

    With ``exact`` (or ``keep``) the first number bounds ``parse`` for any input.
    """

def parse(
    data: Buffer,
    kind: int,
    keep: Buffer | None,
    user: Buffer,
    movie: Buffer,
    rating: Buffer | None,
    date: Buffer | None,
    /,
) -> tuple[int, int, int, int]:
    """Fill the outputs; returns (written, code, 1-based line, byte offset of that line)."""

def checksum(data: Buffer, /) -> int:
    """64-bit checksum of the bytes of ``data`` (the same function as ``numpy_checksum``)."""
