"""From a candidate-ranking answer to a :class:`~llmrec.recommenders.base.Recommendation`.

The prompt (:meth:`~llmrec.prompts.PromptTemplate.ranking_messages`) lists the candidates
numbered from 1, as "Title (Year)". The answer is parsed like any other
(:func:`~llmrec.prompts.parse_response`); each item then names a candidate

* **by number**: an item that is only a number ("7", "#7", "[7]", or a bare answer "7, 3, 1")
  within 1..n is candidate ``n``; an item "7. Heat (1995)" whose title names no candidate falls
  back to its leading number;
* **by title**: otherwise the title is resolved with a :class:`~llmrec.data.TitleResolver`
  over the candidates alone (exact, year, then fuzzy), so a title outside the candidates can
  never land on one.

Anything else is **invalid**: counted in ``diagnostics["n_invalid"]`` and listed in
``diagnostics["invalid"]``. Kept: the candidates in the model's order, without repeats, at most
``k``; score = 1 / (rank in the model's list). An answer that names no candidate is invalid as
a whole (``diagnostics["valid"]`` is ``False`` and the recommendation is empty).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmrec.prompts.parse import ParsedResponse, ParsedTitle
from llmrec.recommenders.base import Recommendation
from llmrec.recommenders.llm.answers import answered, closing_diagnostics
from llmrec.recommenders.llm.transports.base import ChatAnswer, message_text

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.prompts import PromptTemplate

__all__ = ["candidate_resolver", "ranking_from_answer"]

_NUMBER = re.compile(r"^[#\[(]?\s*(\d{1,4})\s*[\])]?\.?$")
_LEADING_NUMBER = re.compile(r"^[#\[(]?\s*(\d{1,4})\s*[\]).:]\s*(?P<rest>.+)$")
_NUMBER_LIST = re.compile(r"^[\s\[\](){}#,;>\d]+$")


def candidate_resolver(candidates: Sequence[int], catalog: Catalog, threshold: float) -> Any:
    """A :class:`~llmrec.data.TitleResolver` over the candidates only."""
    from llmrec.data.catalog import Catalog as _Catalog
    from llmrec.data.resolver import TitleResolver

    return TitleResolver(_Catalog(catalog.movie(m) for m in candidates), threshold=threshold)


def _numbers_only(text: str) -> list[int] | None:
    """``"7, 3, 1"`` or ``"[7, 3, 1]"`` -> [7, 3, 1]; None for any other text."""
    body = text.strip().strip("`").strip()
    if not body or not _NUMBER_LIST.match(body) or not re.search(r"\d", body):
        return None
    return [int(n) for n in re.findall(r"\d+", body)]


def _pick(item: ParsedTitle, candidates: Sequence[int], resolver: Any) -> tuple[int | None, str]:
    """The candidate an item names and how (``"number"``, ``"title"``), or ``(None, "")``."""
    n = len(candidates)
    number = _NUMBER.match(item.title) if item.year is None else None
    if number is not None and 1 <= int(number.group(1)) <= n:
        return candidates[int(number.group(1)) - 1], "number"
    found = resolver.resolve(item.title, item.year).movie_id
    if found is not None:
        return int(found), "title"
    leading = _LEADING_NUMBER.match(item.title)
    if leading is not None:
        found = resolver.resolve(leading.group("rest"), item.year).movie_id
        if found is not None:
            return int(found), "title"
        if 1 <= int(leading.group(1)) <= n:
            return candidates[int(leading.group(1)) - 1], "number"
    return None, ""


def ranking_from_answer(
    candidates: Sequence[int],
    k: int,
    key: str,
    answer: ChatAnswer,
    *,
    template: PromptTemplate,
    resolver: Any,
) -> Recommendation:
    """Map an answer's items to candidates (see the module docstring) and diagnose the rest."""
    text, finish = message_text(answer.response)
    numbers = _numbers_only(text)
    parsed: ParsedResponse
    if numbers is not None:
        items = tuple(ParsedTitle(str(n), None, str(n)) for n in numbers)
        parsed = ParsedResponse(items, "lines", valid=bool(items))
    else:
        parsed = template.parse(text)
    ids: list[int] = []
    scores: list[float] = []
    invalid: list[str] = []
    seen: set[int] = set()
    by_number = by_title = repeated = beyond_k = 0
    for rank, item in enumerate(parsed.items, 1):
        movie, how = _pick(item, candidates, resolver)
        if movie is None:
            invalid.append(item.label())
        elif movie in seen:
            repeated += 1
        elif len(ids) >= k:
            beyond_k += 1
        else:
            seen.add(movie)
            ids.append(movie)
            scores.append(1.0 / rank)
            if how == "number":
                by_number += 1
            else:
                by_title += 1
    diagnostics: dict[str, Any] = {
        "request_key": key,
        "task": "rank",
        "format": parsed.format,
        "valid": bool(ids),
        "n_candidates": len(candidates),
        "n_titles": len(parsed.items),
        "n_by_number": by_number,
        "n_by_title": by_title,
        "n_invalid": len(invalid),
        "invalid": invalid,
        **closing_diagnostics(parsed, answer, finish, repeated=repeated, beyond_k=beyond_k),
    }
    return answered(answer, text, ids, scores, diagnostics)
