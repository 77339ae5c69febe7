"""From a chat answer to a :class:`~llmrec.recommenders.base.Recommendation`.

:func:`recommendation_from_answer` parses an answer's text with the prompt template, resolves
the written titles to catalog ids and reports in ``diagnostics`` what was lost on the way
(unresolved titles, profile movies, repeats, titles past ``k``, truncation). Whatever transport
produced the answer, this step is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmrec.recommenders.base import Recommendation
from llmrec.recommenders.llm.transports.base import ChatAnswer, message_text

if TYPE_CHECKING:
    from llmrec.data.resolver import TitleResolver
    from llmrec.prompts import PromptTemplate
    from llmrec.prompts.parse import ParsedResponse
    from llmrec.recommenders.llm.cache import CachedResponse
__all__ = [
    "answer_from_cache",
    "answered",
    "closing_diagnostics",
    "failed_recommendation",
    "recommendation_from_answer",
]


def answer_from_cache(hit: CachedResponse) -> ChatAnswer:
    """A cached response as an answer (``cached=True``, no attempt made)."""
    return ChatAnswer(
        hit.response,
        hit.prompt_tokens,
        hit.completion_tokens,
        hit.cost_usd,
        hit.latency_s,
        0,
        hit.batch,
        True,
        structured_mode=hit.structured_mode,
    )


def failed_recommendation(key: str, answer: ChatAnswer) -> Recommendation:
    """An answer that failed for good: no movies, the reason in ``diagnostics["failed"]``."""
    from llmrec.openai_api.redact import redact

    return Recommendation(
        movie_ids=(),
        scores=(),
        raw_text="",
        diagnostics={
            "request_key": key,
            "failed": redact(answer.error or "failed"),
            "n_titles": 0,
            "attempts": answer.attempts,
            "batch": answer.batch,
        },
        usage={"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        latency_s=answer.latency_s,
        cost_usd=answer.cost_usd,
        cached=False,
    )


def recommendation_from_answer(
    profile: Sequence[int],
    k: int,
    key: str,
    answer: ChatAnswer,
    *,
    template: PromptTemplate,
    resolver: TitleResolver,
) -> Recommendation:
    """Parse an answer's text, resolve titles to ids, and report what was lost on the way.

    Kept: resolved ids that are neither profile movies nor repeats, at most ``k``, in the
    model's order; score = 1 / (rank in the model's list), so it never increases.
    Unresolved titles (not in the catalog: hallucinations) are listed in ``diagnostics``.
    """
    text, finish = message_text(answer.response)
    parsed = template.parse(text)
    resolutions = resolver.resolve_many(list(parsed.items))
    ids: list[int] = []
    scores: list[float] = []
    unresolved: list[str] = []
    in_profile = repeated = beyond_k = 0
    seen: set[int] = set()
    profile_set = set(profile)
    for rank, (item, res) in enumerate(zip(parsed.items, resolutions, strict=True), 1):
        if res.movie_id is None:
            unresolved.append(item.label())
        elif res.movie_id in profile_set:
            in_profile += 1
        elif res.movie_id in seen:
            repeated += 1
        elif len(ids) >= k:
            beyond_k += 1
        else:
            seen.add(res.movie_id)
            ids.append(int(res.movie_id))
            scores.append(1.0 / rank)
    diagnostics: dict[str, Any] = {
        "request_key": key,
        "format": parsed.format,
        "valid": bool(parsed.valid),
        "n_titles": len(parsed.items),
        "n_unresolved": len(unresolved),
        "unresolved": unresolved,
        "n_profile_movies": in_profile,
        **closing_diagnostics(parsed, answer, finish, repeated=repeated, beyond_k=beyond_k),
    }
    if answer.structured_mode is not None:
        diagnostics["structured_output"] = answer.structured_mode
    return answered(answer, text, ids, scores, diagnostics)


def closing_diagnostics(
    parsed: ParsedResponse, answer: ChatAnswer, finish: str | None, *, repeated: int, beyond_k: int
) -> dict[str, Any]:
    """The diagnostics every parsed answer ends with: its items repeated (by the parser or as
    the same movie), cut at ``k`` or dropped, whether it was truncated, and how it came back."""
    return {
        "n_duplicates": int(parsed.duplicates) + repeated,
        "n_beyond_k": beyond_k,
        "n_dropped": len(parsed.dropped),
        "truncated": bool(parsed.truncated) or finish == "length",
        "finish_reason": finish,
        "attempts": answer.attempts,
        "batch": answer.batch,
    }


def answered(
    answer: ChatAnswer,
    text: str,
    ids: Sequence[int],
    scores: Sequence[float],
    diagnostics: dict[str, Any],
) -> Recommendation:
    """The recommendation for a parsed answer: its movies, text, usage, latency and cost."""
    return Recommendation(
        movie_ids=tuple(ids),
        scores=tuple(scores),
        raw_text=text,
        diagnostics=diagnostics,
        usage={
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        },
        latency_s=answer.latency_s,
        cost_usd=answer.cost_usd,
        cached=answer.cached,
    )
