"""From a chat-completions answer to a :class:`~llmrec.recommenders.base.Recommendation`.

An :class:`Answer` is one response as received (or read back from the cache) with its token
counts, cost and latency. :func:`recommendation_from_answer` parses its text with the prompt
template, resolves the written titles to catalog ids and reports in ``diagnostics`` what was
lost on the way (unresolved titles, profile movies, repeats, titles past ``k``, truncation).
:func:`answer_cost` prices an answer from the price table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmrec.errors import ConfigError
from llmrec.recommenders.base import Recommendation

if TYPE_CHECKING:
    from llmrec.data.resolver import TitleResolver
    from llmrec.prompts import PromptTemplate
    from llmrec.recommenders._llm_cache import CachedResponse

__all__ = ["Answer", "answer_cost", "message_text", "recommendation_from_answer", "usage"]


@dataclass(frozen=True)
class Answer:
    """One chat-completions answer as received (or read back from the cache)."""

    response: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    latency_s: float | None
    attempts: int
    batch: bool
    cached: bool

    @classmethod
    def from_cache(cls, hit: CachedResponse) -> Answer:
        return cls(
            hit.response,
            hit.prompt_tokens,
            hit.completion_tokens,
            hit.cost_usd,
            hit.latency_s,
            0,
            hit.batch,
            True,
        )


def usage(response: dict[str, Any]) -> tuple[int, int]:
    """Prompt and completion tokens of a response (0 where the server reports none)."""
    counts = response.get("usage") or {}
    return int(counts.get("prompt_tokens") or 0), int(counts.get("completion_tokens") or 0)


def message_text(response: dict[str, Any]) -> tuple[str, str | None]:
    """The first choice's text (a refusal counts as text) and its ``finish_reason``."""
    choices = response.get("choices") or []
    if not choices:
        return "", None
    choice = choices[0] or {}
    message = choice.get("message") or {}
    text = message.get("content") or message.get("refusal") or ""
    return str(text), choice.get("finish_reason")


def answer_cost(
    model: str, prompt_tokens: int, completion_tokens: int, *, batch: bool
) -> float | None:
    """USD for one answer at the price table's rate; ``None`` for models without a price."""
    from llmrec.finetune.prices import inference_cost

    try:
        return inference_cost(model, prompt_tokens, completion_tokens, batch=batch)
    except ConfigError:
        return None


def recommendation_from_answer(
    profile: Sequence[int],
    k: int,
    key: str,
    answer: Answer,
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
        "n_duplicates": int(parsed.duplicates) + repeated,
        "n_beyond_k": beyond_k,
        "n_dropped": len(parsed.dropped),
        "truncated": bool(parsed.truncated) or finish == "length",
        "finish_reason": finish,
        "attempts": answer.attempts,
        "batch": answer.batch,
    }
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
