"""Ranking a candidate set by likelihood: ``ranking="likelihood"`` in a language-model config.

For a profile and its candidates, the prompt is the generative ranking prompt
(:meth:`~llmrec.prompts.PromptTemplate.ranking_messages`, candidates in their given order) and
each candidate is scored by the log-probability of the answer naming it first, written as the
template writes a one-item answer (:meth:`~llmrec.prompts.PromptTemplate.target`, e.g.
``"1. Heat (1995)"``):

    score(c) = Σ_t log P(a_t | prompt, a_<t)          (``length_normalised=False``)
    score(c) = Σ_t log P(a_t | prompt, a_<t) / |a|     (``length_normalised=True``)

Candidates are ordered by score, highest first (equal scores keep the candidates' order), so
every answer is a full permutation of the candidates (cut at ``k``): validity 1.0 by
construction, nothing to parse or resolve. The choice is recorded in each recommendation's
diagnostics (``ranking``, ``length_normalised``) with every candidate's score and token count.
Cost: one forward pass (a prompt-only request) per candidate, no generated tokens (LlamaRec and
other verbaliser rankers read models this way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmrec.errors import ConfigError
from llmrec.recommenders.base import Recommendation

__all__ = ["candidate_answer", "rank_by_likelihood"]


def candidate_answer(template: Any, movie: int, catalog: Any) -> str:
    """The one-item answer naming ``movie`` first, as the template writes answers."""
    text: str = template.target([movie], catalog)
    return text


def rank_by_likelihood(
    backend: Any,
    profiles: Sequence[tuple[int, ...]],
    candidates: Sequence[tuple[int, ...]],
    k: int | None,
) -> list[Recommendation]:
    """Every profile's candidates ordered by likelihood (module docstring); ``backend`` is a
    fitted :class:`~llmrec.recommenders.llm.pipeline.LanguageModelRecommender` (not imported:
    the pipeline imports this module)."""
    catalog = backend._check_fitted()
    template = backend.template
    normalised = bool(getattr(backend.config, "length_normalised", False))
    conversations: list[Sequence[Mapping[str, str]]] = []
    answers: list[str] = []
    spans: list[tuple[int, int]] = []
    for i, (profile, cands) in enumerate(zip(profiles, candidates, strict=True)):
        missing = [m for m in cands if m not in catalog]
        if missing:
            raise ConfigError(
                f"candidate list {i} holds movie(s) {missing[:5]} that are not in the catalog, "
                f"so {backend.name} cannot name them in the prompt"
            )
        known = tuple(m for m in profile if m in catalog)
        kk = len(cands) if k is None else min(k, len(cands))
        messages = template.ranking_messages(known, cands, catalog, k=kk)
        start = len(answers)
        for movie in cands:
            conversations.append(messages)
            answers.append(candidate_answer(template, movie, catalog))
        spans.append((start, len(answers)))
    if answers:
        totals, counts = backend.continuation_logprobs(conversations, answers)
    out = []
    for (start, end), cands in zip(spans, candidates, strict=True):
        if start == end:
            out.append(Recommendation((), (), diagnostics={"task": "rank", "n_candidates": 0}))
            continue
        raw = [float(x) for x in totals[start:end]]
        n = [int(x) for x in counts[start:end]]
        score = [r / c for r, c in zip(raw, n, strict=True)] if normalised else raw
        order = sorted(range(len(cands)), key=lambda j: (-score[j], j))
        kk = len(cands) if k is None else min(k, len(cands))
        kept = order[:kk]
        out.append(
            Recommendation(
                tuple(cands[j] for j in kept),
                tuple(score[j] for j in kept),
                diagnostics={
                    "task": "rank",
                    "ranking": "likelihood",
                    "length_normalised": normalised,
                    "valid": True,
                    "n_candidates": len(cands),
                    "n_invalid": 0,
                    "n_duplicates": 0,
                    "candidate_logprobs": raw,
                    "candidate_tokens": n,
                },
                cost_usd=0.0 if backend.token_cost(1, 0) == 0.0 else None,
            )
        )
    return out
