"""Streaming reader of one RecBole atomic file: the typed header, then rows of text fields.

The file is read one line at a time (decoded line by line, so an encoding error names its
line) and only the columns a loader asks for are kept, as compact arrays: a token column is
numbered in order of first appearance as it is read (:class:`Tokens`), a float column is
parsed into an ``array('d')``. Memory holds those arrays and the distinct tokens, never the
file's text, so an ``.inter`` file of tens of millions of rows loads.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llmrec.errors import DataFormatError

TYPES = ("token", "float", "token_seq", "float_seq")


@dataclass
class Tokens:
    """Tokens numbered ``1..n`` in order of first appearance (shared across files)."""

    index: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Header:
    """An atomic file's path and its typed columns ``[(name, type), ...]``."""

    path: Path
    fields: list[tuple[str, str]]

    def has(self, name: str) -> bool:
        return any(f == name for f, _ in self.fields)

    def position(self, name: str) -> int:
        return [f for f, _ in self.fields].index(name)

    def error(self, name: str, line: int, message: str, value: str) -> DataFormatError:
        k = self.position(name)
        return DataFormatError(
            f"column {k + 1} ({name}:{self.fields[k][1]}): {message}",
            path=self.path,
            line=line,
            text=value,
        )

    def need(self, name: str, types: Sequence[str], what: str) -> int:
        """The position of column ``name``, which must exist with one of ``types``."""
        found = dict(self.fields)
        if name not in found:
            have = "\t".join(f"{f}:{t}" for f, t in self.fields)
            raise DataFormatError(
                f"no {name!r} column for the {what} (the header has {have})", path=self.path, line=1
            )
        k = self.position(name)
        if found[name] not in types:
            raise DataFormatError(
                f"column {k + 1} ({name}) must be of type {' or '.join(types)}, "
                f"not {found[name]!r}",
                path=self.path,
                line=1,
                text=f"{name}:{found[name]}",
            )
        return k


def _parse_header(path: Path, line: str) -> Header:
    fields: list[tuple[str, str]] = []
    for k, cell in enumerate(line.split("\t"), start=1):
        name, colon, typ = cell.rpartition(":")
        if not colon or not name:
            raise DataFormatError(
                f"column {k}: a header cell must be name:type", path=path, line=1, text=cell
            )
        if typ not in TYPES:
            raise DataFormatError(
                f"column {k} ({name}): type must be one of {', '.join(TYPES)}",
                path=path,
                line=1,
                text=cell,
            )
        if name in dict(fields):
            raise DataFormatError(f"column {k}: {name!r} repeats", path=path, line=1, text=cell)
        fields.append((name, typ))
    return Header(path, fields)


class AtomicFile:
    """One atomic file: :attr:`header`, then :meth:`rows`; counts :attr:`blank_lines`.

    Blank lines are skipped, as RecBole's reader (pandas) skips them, and their line numbers
    kept (:meth:`line_of` turns a row index back into its line).
    """

    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        self.encoding = encoding
        self.blank: list[int] = []
        self.n_rows = 0
        with open(path, "rb") as fh:
            first = fh.readline()
        if not first.strip():
            raise DataFormatError("empty file: expected a typed header line", path=path, line=1)
        self.header = _parse_header(path, self._decode(first, 1).removeprefix("\ufeff"))

    def _decode(self, raw: bytes, no: int) -> str:
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise DataFormatError(
                f"not {self.encoding} text: {exc.reason}", path=self.path, line=no
            ) from None
        if text.endswith("\n"):
            text = text[:-1]
        return text[:-1] if text.endswith("\r") else text

    @property
    def blank_lines(self) -> int:
        return len(self.blank)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, fields)`` of every non-blank line after the header; checks the width."""
        width = len(self.header.fields)
        with open(self.path, "rb") as fh:
            fh.readline()
            for no, raw in enumerate(fh, start=2):
                text = self._decode(raw, no)
                if not text:
                    self.blank.append(no)
                    continue
                parts = text.split("\t")
                if len(parts) != width:
                    raise DataFormatError(
                        f"expected {width} tab-separated fields as in the header, got {len(parts)}",
                        path=self.path,
                        line=no,
                        text=text,
                    )
                self.n_rows += 1
                yield no, parts

    def cell(self, line: int, name: str) -> str:
        """The text of column ``name`` on ``line`` (read again: for error messages only)."""
        k = self.header.position(name)
        with open(self.path, "rb") as fh:
            for no, raw in enumerate(fh, start=1):
                if no == line:
                    return self._decode(raw, no).split("\t")[k]
        return ""

    def line_of(self, row: int) -> int:
        """The line of data row ``row`` (0-based), the header and blank lines counted."""
        line = row + 2
        for blank in self.blank:
            if blank <= line:
                line += 1
        return line


def token(tokens: Tokens, header: Header, name: str, no: int, value: str) -> int:
    """The code of ``value`` in ``tokens`` (numbering it if new); an empty id is an error."""
    code = tokens.index.get(value)
    if code is None:
        if not value.strip():
            raise header.error(name, no, "empty id", value)
        code = tokens.index[value] = len(tokens.index) + 1
    return code


def number(header: Header, name: str, no: int, value: str, out: array[float]) -> None:
    """Append ``float(value)`` to ``out``; a value that is not a number is an error."""
    try:
        out.append(float(value))
    except ValueError:
        raise header.error(name, no, "not a number", value) from None
