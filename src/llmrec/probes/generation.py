"""Reading a probe's answers by generation, through a backend's own request pipeline.

A probe question is sent exactly as a recommendation request is: the backend's transport
writes the wire body (:meth:`~llmrec.recommenders.llm.transports.base.Transport.build_body`),
whose hash with the endpoint and model is the response-cache key
(:func:`~llmrec.recommenders.llm.cache.request_key`); cached answers are read in one lookup;
only the rest are priced (``o200k_base`` input tokens with the chat overhead, the correct
answer's tokens plus one as the expected output, at the backend's
:meth:`~llmrec.recommenders.llm.pipeline.LanguageModelRecommender.token_cost`), checked
against the budget, and sent in one call to the transport; each answer is stored in the cache
the moment it arrives, so an interrupted probe pays for nothing twice and a rerun sends
nothing.

The reader is one entry of :data:`READERS`, the probe's extension point: a reader turns
questions into answer texts. Likelihood scoring (the log-probability of the correct title
against others, for backends that can score) is another reader returning the title it rates
most likely, scored by the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from llmrec._progress import progress_bar
from llmrec.errors import BudgetExceededError, CacheMissError, ConfigError
from llmrec.recommenders.capabilities import CostEstimate
from llmrec.recommenders.llm.cache import request_key
from llmrec.recommenders.llm.pipeline import LanguageModelRecommender
from llmrec.recommenders.llm.transports.base import ChatAnswer, ChatRequest

if TYPE_CHECKING:
    from llmrec.probes.questions import ProbeQuestion

__all__ = ["READERS", "AnswerReader", "GenerationReader", "ProbeAnswer", "ProbePlan"]


@dataclass(frozen=True)
class ProbeAnswer:
    """One question's answer text, whether it came from the cache, what it cost, and the
    error of a request that failed for good (then ``text`` is empty)."""

    text: str
    cached: bool
    cost_usd: float | None
    error: str | None = None


@dataclass(frozen=True)
class ProbePlan:
    """What running a probe would send: every request, those already answered in the cache,
    and the cost of the rest."""

    requests: int
    cached: int
    cost: CostEstimate
    """Requests, tokens and USD of the uncached requests (``usd`` ``None``: unknown)."""

    def __str__(self) -> str:
        usd = "unknown USD" if self.cost.usd is None else f"{self.cost.usd:.4f} USD"
        return (
            f"{self.cost.model}: {self.requests:,} probe requests, {self.cached:,} cached; "
            f"to send {self.cost.requests:,} ({self.cost.input_tokens:,} input + "
            f"{self.cost.output_tokens:,} output tokens), {usd}"
        )


class AnswerReader(Protocol):
    """How a probe gets its answers from a backend (see the module docstring)."""

    def plan(self, backend: Any, questions: Sequence[ProbeQuestion]) -> ProbePlan:
        """What :meth:`answers` would send and cost; sends nothing."""
        ...

    def answers(
        self,
        backend: Any,
        questions: Sequence[ProbeQuestion],
        *,
        budget_usd: float | None,
        allow_unknown_cost: bool,
        progress: bool,
    ) -> list[ProbeAnswer]:
        """One answer per question, in order."""
        ...


def _pipeline(backend: Any) -> LanguageModelRecommender:
    if not isinstance(backend, LanguageModelRecommender):
        raise ConfigError(
            f"a memorisation probe asks a language model; the {getattr(backend, 'name', '?')!r} "
            "backend is not one (use e.g. 'openai' or 'transformers')"
        )
    if getattr(backend.config, "constrained", False):
        raise ConfigError(
            "the backend decodes constrained to catalog titles in the numbered format "
            "(constrained=True); a probe needs free answers: build it with constrained=False"
        )
    return backend


class GenerationReader:
    """Answers by generation through the backend's pipeline (cache, price, budget, send)."""

    def requests(self, backend: Any, questions: Sequence[ProbeQuestion]) -> list[ChatRequest]:
        """One request per question, keyed as the pipeline keys every request."""
        transport = _pipeline(backend).transport()
        endpoint, model = transport.endpoint, transport.model
        out = []
        for i, q in enumerate(questions):
            body = transport.build_body(q.messages, response_format=None)
            out.append(ChatRequest(request_key(endpoint, model, body), body, q.messages, (), 1, i))
        return out

    def _missing(
        self, backend: LanguageModelRecommender, requests: Sequence[ChatRequest]
    ) -> tuple[dict[str, ChatAnswer], list[ChatRequest]]:
        have = backend.cached_answers([r.key for r in requests])
        todo = list({r.key: r for r in requests if r.key not in have}.values())
        return have, todo

    def _estimate(
        self,
        backend: LanguageModelRecommender,
        questions: Sequence[ProbeQuestion],
        todo: Sequence[ChatRequest],
    ) -> CostEstimate:
        from llmrec.openai_api.tokens import count_chat_tokens, count_tokens, get_encoding

        encoding = get_encoding()
        n_in = n_out = 0
        for request in todo:
            n_in += count_chat_tokens(request.messages, encoding=encoding)
            expected = questions[request.index].expected
            n_out += count_tokens(expected, encoding=encoding) + 1
        usd = backend.token_cost(n_in, n_out) if todo else 0.0
        cap = backend.max_output_tokens
        worst = None if cap is None else backend.token_cost(n_in, len(todo) * cap)
        return CostEstimate(backend.model_id, len(todo), n_in, n_out, usd, worst)

    def plan(self, backend: Any, questions: Sequence[ProbeQuestion]) -> ProbePlan:
        pipeline = _pipeline(backend)
        requests = self.requests(pipeline, questions)
        have, todo = self._missing(pipeline, requests)
        cached = sum(r.key in have for r in requests)
        return ProbePlan(len(requests), cached, self._estimate(pipeline, questions, todo))

    def answers(
        self,
        backend: Any,
        questions: Sequence[ProbeQuestion],
        *,
        budget_usd: float | None,
        allow_unknown_cost: bool,
        progress: bool,
    ) -> list[ProbeAnswer]:
        pipeline = _pipeline(backend)
        requests = self.requests(pipeline, questions)
        answers, todo = self._missing(pipeline, requests)
        if todo and getattr(pipeline.config, "cache_mode", "read_write") == "replay_only":
            first = questions[todo[0].index]
            raise CacheMissError(
                f"replay_only: {len(todo)} of {len(requests)} probe requests have no answer in "
                f"the cache {pipeline.cache_path()}; first: the question about movie "
                f"{first.movie_id} ({first.prompt!r}, request {todo[0].key}). Run once with "
                "cache_mode='read_write' to fill it."
            )
        if todo:
            check_budget(self._estimate(pipeline, questions, todo), budget_usd, allow_unknown_cost)
            bar = progress_bar(enabled=progress, total=len(todo), desc=pipeline.model_id)

            def arrived(request: ChatRequest, answer: ChatAnswer) -> None:
                pipeline.store(request, answer)
                bar.update(1)

            try:
                fresh = pipeline.transport().send(todo, on_answer=arrived)
            finally:
                bar.close()
            answers.update((r.key, a) for r, a in zip(todo, fresh, strict=True))
        out = []
        for request in requests:
            answer = answers[request.key]
            out.append(
                ProbeAnswer(answer.text, answer.cached, answer.cost_usd, answer.error)
                if answer.error is None
                else ProbeAnswer("", False, answer.cost_usd, answer.error)
            )
        return out


def check_budget(cost: CostEstimate, budget_usd: float | None, allow_unknown_cost: bool) -> None:
    """Raise :class:`~llmrec.errors.BudgetExceededError` before sending when the uncached
    requests could cost more than ``budget_usd`` in the worst case (every answer at the
    backend's ``max_tokens`` cap; the planned cost when no cap is known), or an unknown amount
    without ``allow_unknown_cost`` (``budget_usd=None``: no limit)."""
    if budget_usd is None:
        return
    if cost.usd is None:
        if not allow_unknown_cost:
            raise BudgetExceededError(
                f"the probe's {cost.requests:,} requests to {cost.model} have an unknown cost "
                f"(no price for the model) and cannot be checked against the budget of "
                f"{budget_usd:.4f} USD; nothing was sent. Give the backend the model's price "
                "(prices={...}), mark a server that bills nothing with free=True, or accept an "
                "unknown cost (allow_unknown_cost=True, --allow-unknown-cost)"
            )
        return
    worst = cost.usd if cost.worst_usd is None else max(cost.usd, cost.worst_usd)
    if worst > budget_usd:
        raise BudgetExceededError(
            f"the probe could spend {worst:.4f} USD on {cost.requests:,} requests to "
            f"{cost.model} if every answer ran to its max_tokens cap (planned {cost.usd:.4f} "
            f"USD), above the budget of {budget_usd:.4f} USD; nothing was sent. Raise the "
            "budget, lower max_tokens or probe fewer items (max_items)"
        )


READERS: dict[str, AnswerReader] = {"generation": GenerationReader()}
"""How a probe reads a model, by the probe's ``method``."""
