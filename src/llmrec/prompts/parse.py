"""Read a recommendation list back out of whatever a model wrote; never raises on model output.

:func:`parse_response` tries, in order:

1. **JSON**: the text inside a ```` ``` ```` code fence, else the text from the first ``{`` or
   ``[``. An object's ``recommendations`` (or ``movies``, ``items``, ``results``, or its first
   list) is read; each entry is ``{"title": ..., "year": ...}`` (also ``name``/``movie`` for the
   title and ``release_year`` for the year) or a ``"Title (Year)"`` string. Output cut off
   mid-way is salvaged entry by entry and flagged ``truncated``.
2. **A list**: lines starting ``1.``, ``1)``, ``#1`` (numbered) or ``-``, ``*``, ``•``
   (bulleted). Whichever marker is more common wins; every other line is chatter and skipped.
3. **Plain lines**: ``Title (Year)`` lines (several on one line when comma separated), or, if no
   line has a year, short lines that do not read as sentences.

Inside an item, Markdown emphasis and quotes are removed, the year is read from ``(1999)``,
``[1999]`` or ``(1999 film)``, and any explanation after the year (or after a spaced dash when
there is no year) is dropped. A list whose last line stops inside brackets or quotes, and JSON
that stops before its end, are flagged ``truncated`` (an answer cut mid-word cannot be told
from the text alone: use the API's ``finish_reason == "length"``). Items are kept in order;
later repeats of a title (same year, or either year unknown) are removed and counted in
``duplicates``. List items that yield no title are listed in ``dropped``; chatter is not.
``valid`` is ``False`` when no title was found; the invalid-output rate of an evaluation
counts those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ParsedResponse", "ParsedTitle", "ResponseFormat", "parse_response", "split_label"]

ResponseFormat = Literal["numbered", "bulleted", "json", "lines", "empty"]

_YEAR = r"(?:18|19|20)\d{2}"
_YEAR_IN_BRACKETS = re.compile(r"[\(\[]\s*(" + _YEAR + r")(?:\s*film)?\s*[\)\]]", re.IGNORECASE)
_YEAR_AFTER_COMMA = re.compile(r"(?:,|\s[-–—])\s*(" + _YEAR + r")\s*$")
_NUMBERED = re.compile(r"^\s*(?:#\s*)?\d{1,3}\s*(?:[.)\]]|\s[-–—]\s)\s*(?P<body>.*)$")
_BULLETED = re.compile(r"^\s*[-*•·+‣▪◦]\s+(?P<body>.*)$")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_-]*[ \t]*\n?(?P<body>.*?)(?:```|$)", re.DOTALL)
_EXPLANATION = re.compile(r"\s+[-–—]\s+.*$|\s+[–—].*$")
_UNCLOSED = re.compile(r"\s*[\(\[][^\)\]]*$")
_MULTI_ITEM = re.compile(r"\s*(?P<title>[^,;\n]+?)\s*\((?P<year>" + _YEAR + r")\)")
_QUOTES = "\"'“”‘’«»`*_ "
_JSON_LIST_KEYS = ("recommendations", "movies", "items", "results", "films")
_JSON_TITLE_KEYS = ("title", "name", "movie", "film")
_JSON_YEAR_KEYS = ("year", "release_year", "released", "release_date")


@dataclass(frozen=True)
class ParsedTitle:
    """One recommended title as written: ``title`` cleaned, ``year`` if given, ``raw`` source."""

    title: str
    year: int | None
    raw: str

    def label(self) -> str:
        """``"Title (Year)"``, or the title alone when no year was written."""
        return self.title if self.year is None else f"{self.title} ({self.year})"


@dataclass(frozen=True)
class ParsedResponse:
    """What :func:`parse_response` found; see the module docstring for each field's meaning."""

    items: tuple[ParsedTitle, ...]
    format: ResponseFormat
    dropped: tuple[str, ...] = ()
    duplicates: int = 0
    truncated: bool = False
    valid: bool = field(default=False)

    @property
    def titles(self) -> list[str]:
        """The titles, in order."""
        return [item.title for item in self.items]


def split_label(text: str) -> tuple[str, int | None]:
    """``"The Matrix (1999) - a classic"`` → ``("The Matrix", 1999)``; the title is cleaned."""
    body = _strip_markup(text)
    match = _YEAR_IN_BRACKETS.search(body)
    if match is None:
        match = _YEAR_AFTER_COMMA.search(body)
    if match is not None:
        return _clean_title(body[: match.start()]), int(match.group(1))
    return _clean_title(_EXPLANATION.sub("", body)), None


def parse_response(text: object) -> ParsedResponse:
    """Parse a model's answer into titles plus diagnostics. Never raises; non-strings are empty."""
    if not isinstance(text, str) or not text.strip():
        return ParsedResponse((), "empty")
    try:
        return _parse(text)
    except (RecursionError, ValueError, TypeError):  # pathological input: report as unreadable
        return ParsedResponse((), "empty", dropped=(text[:200],))


# -- strategies ---------------------------------------------------------------------------------
def _parse(text: str) -> ParsedResponse:
    if "{" in text or "[" in text:
        parsed = _parse_json(text)
        if parsed is not None:
            return parsed
    listed = _parse_list(text)
    if listed is not None:
        return listed
    return _parse_lines(text)


def _finish(
    items: Iterable[ParsedTitle], fmt: ResponseFormat, dropped: list[str], truncated: bool
) -> ParsedResponse:
    kept: list[ParsedTitle] = []
    seen: dict[str, set[int | None]] = {}
    duplicates = 0
    for item in items:
        key = re.sub(r"\W+", " ", item.title.casefold()).strip()
        years = seen.setdefault(key, set())
        if years and (item.year in years or item.year is None or None in years):
            duplicates += 1
            continue
        years.add(item.year)
        kept.append(item)
    return ParsedResponse(
        items=tuple(kept),
        format=fmt,
        dropped=tuple(dropped),
        duplicates=duplicates,
        truncated=truncated,
        valid=bool(kept),
    )


def _parse_json(text: str) -> ParsedResponse | None:
    candidates = [m.group("body") for m in _FENCE.finditer(text) if m.group("body").strip()]
    candidates.append(text)
    for candidate in candidates:
        start = _first_bracket(candidate)
        if start < 0:
            continue
        try:
            value, _ = json.JSONDecoder().raw_decode(candidate, start)
        except json.JSONDecodeError:
            salvaged = _salvage_json(candidate[start:])
            if salvaged is not None:
                return salvaged
            continue
        entries = _json_entries(value)
        items, dropped = _read_entries(entries or [])
        # A JSON object is the answer even when it holds no titles; a bare list only when it
        # does ("[1995]" in "1. Heat [1995]" is not a JSON answer).
        if items or isinstance(value, dict):
            return _finish(items, "json", dropped, truncated=False)
    return None


def _first_bracket(text: str) -> int:
    positions = [p for p in (text.find("{"), text.find("[")) if p >= 0]
    return min(positions) if positions else -1


def _json_entries(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        lowered = {str(k).casefold(): v for k, v in value.items()}
        for key in _JSON_LIST_KEYS:
            if isinstance(lowered.get(key), list):
                return list(lowered[key])
        for v in value.values():
            if isinstance(v, list):
                return v
        if any(k in lowered for k in _JSON_TITLE_KEYS):
            return [value]
    return None


def _read_entries(entries: list[Any]) -> tuple[list[ParsedTitle], list[str]]:
    items: list[ParsedTitle] = []
    dropped: list[str] = []
    for entry in entries:
        item = _read_entry(entry)
        if item is None:
            dropped.append(json.dumps(entry, ensure_ascii=False)[:200])
        else:
            items.append(item)
    return items, dropped


def _read_entry(entry: Any) -> ParsedTitle | None:
    raw = json.dumps(entry, ensure_ascii=False)
    if isinstance(entry, str):
        title, year = split_label(entry)
        return ParsedTitle(title, year, entry) if title else None
    if not isinstance(entry, dict):
        return None
    lowered = {str(k).casefold(): v for k, v in entry.items()}
    title_value = next((lowered[k] for k in _JSON_TITLE_KEYS if k in lowered), None)
    if not isinstance(title_value, str):
        return None
    title, written_year = split_label(title_value)
    if not title:
        return None
    year_value = next((lowered[k] for k in _JSON_YEAR_KEYS if k in lowered), None)
    return ParsedTitle(title, _read_year(year_value, written_year), raw)


def _read_year(value: Any, fallback: int | None) -> int | None:
    if isinstance(value, bool):
        return fallback
    if isinstance(value, int) and 1800 <= value <= 2099:
        return value
    if isinstance(value, str):
        match = re.search(_YEAR, value)
        if match is not None:
            return int(match.group(0))
    return fallback


def _salvage_json(fragment: str) -> ParsedResponse | None:
    """Read the complete entries of JSON that was cut off (a model that ran out of tokens)."""
    decoder = json.JSONDecoder()
    items: list[ParsedTitle] = []
    dropped: list[str] = []
    inner = fragment.find("[")
    if inner < 0:
        return None
    pos = inner + 1
    while pos < len(fragment):
        while pos < len(fragment) and fragment[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(fragment) or fragment[pos] == "]":
            break
        try:
            entry, pos = decoder.raw_decode(fragment, pos)
        except json.JSONDecodeError:
            break
        item = _read_entry(entry)
        if item is None:
            dropped.append(json.dumps(entry, ensure_ascii=False)[:200])
        else:
            items.append(item)
    if not items:
        return None
    return _finish(items, "json", dropped, truncated=True)


def _parse_list(text: str) -> ParsedResponse | None:
    lines = _content_lines(text)
    numbered = [(i, m.group("body")) for i, ln in enumerate(lines) if (m := _NUMBERED.match(ln))]
    bulleted = [(i, m.group("body")) for i, ln in enumerate(lines) if (m := _BULLETED.match(ln))]
    if not numbered and not bulleted:
        return None
    fmt: ResponseFormat = "numbered" if len(numbered) >= len(bulleted) else "bulleted"
    chosen = numbered if fmt == "numbered" else bulleted
    items: list[ParsedTitle] = []
    dropped: list[str] = []
    truncated = False
    ends_open = not text.endswith(("\n", "```"))
    for n, (index, body) in enumerate(chosen):
        is_last = n == len(chosen) - 1 and index == len(lines) - 1
        if is_last and ends_open and (_UNCLOSED.search(body) or body.count('"') % 2):
            body = _UNCLOSED.sub("", body).replace('"', "")
            truncated = True
        title, year = split_label(body)
        if not _has_word(title):
            dropped.append(lines[index].strip())
            continue
        items.append(ParsedTitle(title, year, lines[index].strip()))
    return _finish(items, fmt, dropped, truncated)


def _parse_lines(text: str) -> ParsedResponse:
    lines = [ln.strip() for ln in _content_lines(text) if ln.strip()]
    items: list[ParsedTitle] = []
    any_year = any(_YEAR_IN_BRACKETS.search(ln) for ln in lines)
    for line in lines:
        multi = list(_MULTI_ITEM.finditer(line))
        if len(multi) >= 2:
            for m in multi:
                title = _clean_title(m.group("title"))
                if _has_word(title):
                    items.append(ParsedTitle(title, int(m.group("year")), m.group(0).strip()))
            continue
        title, year = split_label(line)
        if not _has_word(title) or len(title.split()) > 12:
            continue
        if any_year and year is None:
            continue
        if not any_year and (line.endswith((":", ".", "!", "?")) or len(title.split()) > 8):
            continue
        items.append(ParsedTitle(title, year, line))
    return _finish(items, "lines" if items else "empty", [], truncated=False)


# -- helpers ------------------------------------------------------------------------------------
def _content_lines(text: str) -> list[str]:
    """Lines of ``text`` without code-fence markers or Markdown heading marks."""
    out = []
    for line in text.splitlines():
        if line.strip().startswith("```"):
            continue
        out.append(_HEADING.sub("", line))
    return out


def _strip_markup(text: str) -> str:
    return text.replace("**", "").replace("__", "").strip()


def _clean_title(text: str) -> str:
    title = text.strip().rstrip(" -–—:,;")
    title = title.strip(_QUOTES).strip()
    return re.sub(r"\s+", " ", title)


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)
