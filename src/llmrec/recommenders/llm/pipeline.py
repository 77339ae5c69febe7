"""The language-model recommender pipeline, whatever carries the requests.

For each profile: prompt (the :class:`~llmrec.prompts.PromptTemplate` writes the messages) ->
wire body (:meth:`Transport.build_body`) and cache key -> response-cache lookup -> the
transport sends only what is missing -> each answer is stored in the cache as it arrives ->
parse -> title resolution -> diagnostics, usage and cost on the
:class:`~llmrec.recommenders.base.Recommendation`.

:class:`LanguageModelRecommender` is that pipeline as a
:class:`~llmrec.recommenders.base.Recommender`; a backend subclasses it and says which
transport to use (:meth:`LanguageModelRecommender.make_transport`), which credentials it needs
and what tokens cost. It also implements the capability protocol
(:class:`~llmrec.recommenders.capabilities.LanguageModelBackend`).

One instance may be shared between threads: nothing about a call is kept on the instance (the
transport, the cache and the SDK client are opened once, under a lock, and are thread-safe).
"""

from __future__ import annotations

import abc
import queue
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from llmrec._progress import progress_bar
from llmrec.errors import BackendError, CacheMissError, ConfigError, NotFittedError
from llmrec.recommenders.base import Recommendation, Recommender
from llmrec.recommenders.capabilities import CostEstimate, Credentials, FineTunedArm, RunSettings
from llmrec.recommenders.llm.answers import (
    answer_from_cache,
    failed_recommendation,
    recommendation_from_answer,
)
from llmrec.recommenders.llm.cache import ResponseCache, request_key
from llmrec.recommenders.llm.ranking import candidate_resolver, ranking_from_answer
from llmrec.recommenders.llm.transports.base import (
    CONTINUATION_LOGPROBS,
    NEXT_TOKEN_LOGPROBS,
    ChatAnswer,
    ChatRequest,
    ScoreTask,
    Transport,
    response_problem,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings
    from llmrec.prompts import PromptTemplate
    from llmrec.recommenders.llm.spend import SpendLimit

__all__ = ["LanguageModelRecommender"]


class LanguageModelRecommender(Recommender):
    """A chat model asked for recommendations, one request per distinct profile.

    The config (a pydantic model) must have the fields ``model``, ``template``,
    ``resolver_threshold``, ``cache_mode`` (``read_write``, ``replay_only`` or ``off``) and
    ``cache`` (a path or ``None``), and a method ``resolved_cache_path()``. Subclasses implement
    :meth:`make_transport`, :meth:`credentials` and :meth:`token_cost`.

    ``fine_tuned_arm`` says which of the experiment's fine-tuned models the backend runs
    (``"sft"``, ``"dpo"``; ``None``: its own ``model``), on the class or, when the config
    chooses, on the instance (see :mod:`llmrec.recommenders.capabilities`).
    """

    # the prompt asks for k movies, so a longer k is another question, not a longer answer
    ranks_catalogue: ClassVar[bool] = False
    fine_tuned_arm: FineTunedArm | None = None
    #: The run's budget while requests are in flight (``RunSettings.spend_limit``; llm/spend.py).
    spend_limit: SpendLimit | None = None

    def __init__(self, config: Any = None, /, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        # Runtime handles, opened on first use and never pickled.
        self._lock = threading.Lock()
        self._transport: Transport | None = None
        self._cache: ResponseCache | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_lock", "_transport", "_cache"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._transport = None
        self._cache = None

    # -- what a backend supplies ------------------------------------------------------------
    @abc.abstractmethod
    def make_transport(self) -> Transport:
        """A new transport for this backend's settings (called once, on first use)."""

    @abc.abstractmethod
    def credentials(self) -> Credentials:
        """Which credentials are needed, and whether they are present now."""

    @abc.abstractmethod
    def token_cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """USD for these tokens at this backend's prices; ``None`` if unknown."""

    def _option(self, name: str) -> Any:
        """A field every pipeline config has (see the class docstring)."""
        return getattr(self.config, name)

    # -- capability protocol ----------------------------------------------------------------
    @property
    def uses_fine_tuned_model(self) -> bool:
        """``fine_tuned_arm is not None`` (the older spelling, kept for callers)."""
        return self.fine_tuned_arm is not None

    @property
    def uses_dpo_model(self) -> bool:
        """``fine_tuned_arm == "dpo"`` (the older spelling, kept for callers)."""
        return self.fine_tuned_arm == "dpo"

    @property
    def model_id(self) -> str:
        return str(self._option("model"))

    @property
    def template(self) -> PromptTemplate:
        template: PromptTemplate = self._option("template")
        return template

    def _copy(self, **changes: Any) -> Self:
        data = {
            name: getattr(self.config, name)
            for name in self.config.model_fields_set | set(changes)
            if name not in changes
        }
        data.update(changes)
        out = type(self)(**data)
        out.spend_limit = self.spend_limit
        return out

    def with_model(self, model: str) -> Self:
        return self._copy(model=model)

    def with_run_settings(self, settings: RunSettings) -> Self:
        changes: dict[str, Any] = {}
        unset = set(type(self.config).model_fields) - self.config.model_fields_set
        if settings.template is not None and "template" in unset:
            changes["template"] = settings.template
        if settings.cache_path is not None and "cache" in unset:
            changes["cache"] = settings.cache_path
        out = self._copy(**changes) if changes else self._copy()
        if settings.spend_limit is not None:
            out.spend_limit = settings.spend_limit
        return out

    @property
    def max_output_tokens(self) -> int | None:
        """The cap on an answer's tokens (the config's ``max_tokens``; ``None``: none known)."""
        cap = getattr(self.config, "max_tokens", None)
        return cap if isinstance(cap, int) else None

    def _worst_usd(self, n_in: int, requests: int) -> float | None:
        """USD of ``requests`` requests with ``n_in`` input tokens if every answer ran to the
        cap (``None``: no cap, or no price)."""
        cap = self.max_output_tokens
        return None if cap is None else self.token_cost(n_in, requests * cap)

    def estimate_cost(
        self, profiles: Sequence[Sequence[int]], k: int, catalog: Catalog
    ) -> CostEstimate:
        """One request per profile; input tokens exact (``o200k_base`` with chat overhead),
        output tokens by :func:`llmrec.openai_api.cost.expected_output_tokens`."""
        from llmrec.openai_api.cost import expected_output_tokens
        from llmrec.openai_api.tokens import count_chat_tokens, get_encoding

        encoding = get_encoding()
        template = self.template
        n_in = 0
        for profile in profiles:
            known = tuple(m for m in profile if m in catalog)
            n_in += count_chat_tokens(template.messages(known, catalog, k=k), encoding=encoding)
        n_out = len(profiles) * expected_output_tokens(k, template=template, catalog=catalog)
        usd = self.token_cost(n_in, n_out)
        worst = self._worst_usd(n_in, len(profiles))
        return CostEstimate(self.model_id, len(profiles), n_in, n_out, usd, worst)

    # -- state ------------------------------------------------------------------------------
    def _fit(
        self, ratings: Ratings, catalog: Catalog | None = None, examples: object = None
    ) -> None:
        """Keep the catalog (titles for the prompt) and build the title resolver."""
        from llmrec.data.resolver import TitleResolver

        if catalog is None:
            raise ConfigError(
                f"the {self.name} backend needs a catalog (movie titles for the prompt and for "
                "resolving the answer): call fit(ratings, catalog)"
            )
        self.catalog_ = catalog
        self.resolver_ = TitleResolver.shared(catalog, threshold=self._option("resolver_threshold"))

    def _check_fitted(self) -> Catalog:
        catalog: Catalog | None = getattr(self, "catalog_", None)
        if catalog is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(ratings, catalog)")
        return catalog

    def transport(self) -> Transport:
        """The transport, built on first use and shared by every thread."""
        with self._lock:
            if self._transport is None:
                made = self.make_transport()
                self._transport = made
                weakref.finalize(self, made.close)
            return self._transport

    @property
    def endpoint(self) -> str:
        """Where requests go (part of every cache key)."""
        return self.transport().endpoint

    @property
    def response_cache(self) -> ResponseCache | None:
        """The response cache read and written, or ``None`` with ``cache_mode="off"``."""
        if self._option("cache_mode") == "off":
            return None
        with self._lock:
            if self._cache is None:
                self._cache = ResponseCache(self.cache_path())
                weakref.finalize(self, self._cache.close)
            return self._cache

    def cache_path(self) -> Path:
        path: Path = self.config.resolved_cache_path()  # type: ignore[attr-defined]
        return path

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the transport's connections and the cache file (both reopen on next use)."""
        with self._lock:
            made, self._transport = self._transport, None
            cache, self._cache = self._cache, None
        if made is not None:
            made.close()
        if cache is not None:
            cache.close()

    # -- planning ---------------------------------------------------------------------------
    def response_format(self) -> dict[str, Any] | None:
        """The JSON schema sent with each request, if any (default: none)."""
        return None

    def plan(self, profiles: Sequence[Sequence[int]], k: int) -> list[ChatRequest]:
        """One request per profile (equal profiles give equal requests and keys)."""
        catalog = self._check_fitted()
        transport = self.transport()
        endpoint, model = transport.endpoint, transport.model
        fmt = self.response_format()
        template = self.template
        made: dict[tuple[int, ...], ChatRequest] = {}
        out: list[ChatRequest] = []
        for i, profile in enumerate(profiles):
            known = tuple(m for m in profile if m in catalog)
            request = made.get(known)
            if request is None or request.k != k:
                messages = tuple(template.messages(known, catalog, k=k))
                body = _keyed_body(transport, messages, fmt, known)
                request = ChatRequest(
                    request_key(endpoint, model, body), body, messages, known, k, i
                )
                made[known] = request
            out.append(request)
        return out

    def cached_answers(self, keys: Sequence[str]) -> dict[str, ChatAnswer]:
        """Answers already in the cache, in one lookup (none with ``cache_mode="off"``)."""
        cache = self.response_cache
        if cache is None:
            return {}
        hits = cache.get_many(keys)
        for key, hit in hits.items():
            problem = response_problem(hit.response)
            if problem is not None:  # the same check as a live answer's
                raise cache.bad_row(key, f"is rejected as it would be live: an answer {problem}")
        return {key: answer_from_cache(hit) for key, hit in hits.items()}

    def check_replay(
        self, profiles: Sequence[Sequence[int]], keys: Sequence[str], have: Any
    ) -> None:
        """In ``replay_only`` mode, fail naming the first profile whose answer is not cached."""
        if self._option("cache_mode") != "replay_only":
            return
        missing = [i for i, key in enumerate(keys) if key not in have]
        if missing:
            i = missing[0]
            raise CacheMissError(
                f"replay_only: {len(missing)} of {len(keys)} profiles have no answer in the cache "
                f"{self.cache_path()}; first: profile #{i} {tuple(profiles[i])} "
                f"(request {keys[i]}, model {self.model_id!r}, endpoint {self.endpoint}). "
                "Run once with cache_mode='read_write' to fill it."
            )

    def store(self, request: ChatRequest, answer: ChatAnswer) -> None:
        """Put a fresh answer in the response cache (thread-safe; failed answers are not kept)."""
        cache = self.response_cache
        if cache is None or answer.error is not None or answer.cached:
            return
        transport = self.transport()
        cache.put(
            request.key,
            endpoint=transport.endpoint,
            model=transport.model,
            request=request.body,
            response=answer.response,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            cost_usd=answer.cost_usd,
            latency_s=answer.latency_s,
            batch=answer.batch,
            structured_mode=answer.structured_mode,
        )

    def to_recommendation(
        self, profile: Sequence[int], k: int, key: str, answer: ChatAnswer
    ) -> Recommendation:
        """Parse, resolve and diagnose one answer (see :mod:`.answers`).

        An answer that failed for good (``answer.error``) is an empty recommendation with
        ``diagnostics["failed"]`` (scored as a miss; it is not cached, so the next run asks
        again), or a :class:`~llmrec.errors.BackendError` with the config's ``fail_fast``.
        """
        if answer.error is not None:
            if getattr(self.config, "fail_fast", False):
                raise BackendError(f"{self.endpoint} failed for request {key[:12]}: {answer.error}")
            return failed_recommendation(key, answer)
        return recommendation_from_answer(
            profile, k, key, answer, template=self.template, resolver=self.resolver_
        )

    def build(
        self,
        profiles: Sequence[Sequence[int]],
        requests: Sequence[ChatRequest],
        answers: dict[str, ChatAnswer],
        parsed: dict[str, Recommendation] | None = None,
    ) -> list[Recommendation]:
        """Recommendations in input order from the answers by key (each parsed once;
        ``parsed`` holds those already parsed as they arrived)."""
        done: dict[str, Recommendation] = dict(parsed or {})
        out = []
        for profile, request in zip(profiles, requests, strict=True):
            rec = done.get(request.key)
            if rec is None:
                rec = self.to_recommendation(profile, request.k, request.key, answers[request.key])
                done[request.key] = rec
            out.append(rec)
        return out

    # -- recommending -----------------------------------------------------------------------
    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        return self._recommend_all(profiles, k, progress=False)

    def _recommend_all(
        self, profiles: list[tuple[int, ...]], k: int, *, progress: bool
    ) -> list[Recommendation]:
        """Every profile in one call to the transport; ``progress`` counts requests sent."""
        requests = self.plan(profiles, k)
        parsed: dict[str, Recommendation] = {}
        arrivals: queue.SimpleQueue[tuple[ChatRequest, ChatAnswer] | None] = queue.SimpleQueue()
        failed: list[BaseException] = []

        def parse_arrivals() -> None:
            # Answers are parsed on this thread while other requests are still in flight: the
            # thread that received an answer stores it in the cache and goes back to sending.
            # The request's profile holds the catalog movies, all that parsing excludes.
            while (item := arrivals.get()) is not None:
                request, answer = item
                if failed:
                    continue
                try:
                    rec = self.to_recommendation(request.profile, request.k, request.key, answer)
                except BaseException as exc:  # raised in the calling thread below
                    failed.append(exc)
                else:
                    parsed[request.key] = rec

        parser = threading.Thread(target=parse_arrivals, name="llmrec-parse", daemon=True)
        parser.start()
        try:
            answers = self._answers(
                profiles, requests, progress=progress, on_answer=lambda r, a: arrivals.put((r, a))
            )
        finally:
            arrivals.put(None)
            parser.join()
        if failed:
            raise failed[0]
        return self.build(profiles, requests, answers, parsed)

    # -- ranking candidates -----------------------------------------------------------------
    def plan_ranking(
        self,
        profiles: Sequence[Sequence[int]],
        candidate_lists: Sequence[Sequence[int]],
        k: int | None,
    ) -> list[ChatRequest]:
        """One candidate-ranking request per profile (see
        :meth:`~llmrec.prompts.PromptTemplate.ranking_messages`); the candidates, in their
        order, are in the messages and so in the cache key."""
        catalog = self._check_fitted()
        transport = self.transport()
        endpoint, model = transport.endpoint, transport.model
        fmt = self.response_format()
        template = self.template
        made: dict[tuple[tuple[int, ...], tuple[int, ...], int], ChatRequest] = {}
        out: list[ChatRequest] = []
        for i, (profile, cands) in enumerate(zip(profiles, candidate_lists, strict=True)):
            missing = [m for m in cands if m not in catalog]
            if missing:
                raise ConfigError(
                    f"candidate list {i} holds movie(s) {missing[:5]} that are not in the "
                    f"catalog, so {self.name} cannot name them in the prompt"
                )
            known = tuple(m for m in profile if m in catalog)
            kk = len(cands) if k is None else min(k, len(cands))
            key = (known, tuple(cands), kk)
            request = made.get(key)
            if request is None:
                messages = tuple(template.ranking_messages(known, cands, catalog, k=kk))
                body = _keyed_body(transport, messages, fmt, known)
                request = ChatRequest(
                    request_key(endpoint, model, body), body, messages, known, kk, i
                )
                made[key] = request
            out.append(request)
        return out

    def estimate_rank_cost(
        self,
        profiles: Sequence[Sequence[int]],
        candidate_lists: Sequence[Sequence[int]],
        k: int | None,
        catalog: Catalog,
    ) -> CostEstimate:
        """What :meth:`rank_many` would send: one request per profile with candidates; input
        tokens exact (the ranking prompt, ``o200k_base`` with chat overhead), output tokens by
        :func:`llmrec.openai_api.cost.expected_output_tokens` for the ``k`` (all) asked for.
        With ``ranking="likelihood"``: one request per candidate (the prompt plus the
        candidate's answer as input, one output token)."""
        from llmrec.openai_api.cost import expected_output_tokens
        from llmrec.openai_api.tokens import count_chat_tokens, get_encoding

        encoding = get_encoding()
        template = self.template
        by_likelihood = getattr(self.config, "ranking", "generate") == "likelihood"
        n_in = n_out = requests = 0
        for profile, cands in zip(profiles, candidate_lists, strict=True):
            if not cands:
                continue
            known = tuple(m for m in profile if m in catalog)
            kk = len(cands) if k is None else min(k, len(cands))
            messages = template.ranking_messages(known, tuple(cands), catalog, k=kk)
            if by_likelihood:  # one prompt-only request per candidate, its answer in the prompt
                from llmrec.recommenders.llm.likelihood_ranking import candidate_answer

                base = count_chat_tokens(messages, encoding=encoding)
                for movie in cands:
                    answer = candidate_answer(template, movie, catalog)
                    n_in += base + len(encoding.encode(answer))
                    n_out += 1
                    requests += 1
                continue
            n_in += count_chat_tokens(messages, encoding=encoding)
            n_out += expected_output_tokens(kk, template=template, catalog=catalog)
            requests += 1
        usd = self.token_cost(n_in, n_out)
        worst = self._worst_usd(n_in, requests)
        return CostEstimate(self.model_id, requests, n_in, n_out, usd, worst)

    def _rank_many(
        self,
        profiles: list[tuple[int, ...]],
        candidates: list[tuple[int, ...]],
        k: int | None,
    ) -> list[Recommendation]:
        return self._rank_all(profiles, candidates, k, progress=False)

    def _rank_all(
        self,
        profiles: list[tuple[int, ...]],
        candidates: list[tuple[int, ...]],
        k: int | None,
        *,
        progress: bool,
    ) -> list[Recommendation]:
        """Every ranking request in one call to the transport (cache first, as for
        :meth:`recommend_many`); an empty candidate list needs no request."""
        if getattr(self.config, "ranking", "generate") == "likelihood":
            from llmrec.recommenders.llm.likelihood_ranking import rank_by_likelihood

            return rank_by_likelihood(self, profiles, candidates, k)
        out: list[Recommendation | None] = [None] * len(profiles)
        asked = [i for i, c in enumerate(candidates) if c]
        for i, c in enumerate(candidates):
            if not c:
                out[i] = Recommendation((), (), diagnostics={"task": "rank", "n_candidates": 0})
        if asked:
            some_profiles = [profiles[i] for i in asked]
            some_candidates = [candidates[i] for i in asked]
            requests = self.plan_ranking(some_profiles, some_candidates, k)
            answers = self._answers(some_profiles, requests, progress=progress)
            resolvers: dict[tuple[int, ...], Any] = {}
            done: dict[str, Recommendation] = {}
            threshold = self._option("resolver_threshold")
            for i, cands, request in zip(asked, some_candidates, requests, strict=True):
                rec = done.get(request.key)
                if rec is None:
                    answer = answers[request.key]
                    if answer.error is not None:  # the pipeline's rule for failed answers
                        rec = self.to_recommendation(profiles[i], request.k, request.key, answer)
                    else:
                        resolver = resolvers.get(cands)
                        if resolver is None:
                            resolver = candidate_resolver(cands, self.catalog_, threshold)
                            resolvers[cands] = resolver
                        rec = ranking_from_answer(
                            cands,
                            request.k,
                            request.key,
                            answer,
                            template=self.template,
                            resolver=resolver,
                        )
                    done[request.key] = rec
                out[i] = rec
        return [r for r in out if r is not None]

    # -- likelihood -------------------------------------------------------------------------
    @property
    def likelihood(self) -> frozenset[str]:
        """The likelihood readings this backend's transport declares (capability protocol):
        ``"next_token_logprobs"`` and/or ``"continuation_logprobs"``; empty: generation only."""
        return self.transport().capabilities & {NEXT_TOKEN_LOGPROBS, CONTINUATION_LOGPROBS}

    def _require(self, capability: str) -> None:
        from llmrec.errors import CapabilityError

        if capability not in self.likelihood:
            raise CapabilityError(
                f"the {self.name} backend ({type(self.transport()).__name__}, {self.endpoint}) "
                f"cannot read {capability.replace('_', ' ')}; it declares "
                f"{sorted(self.likelihood) or 'none'}"
            )

    def plan_scores(
        self, conversations: Sequence[Sequence[Mapping[str, str]]], tasks: Sequence[ScoreTask]
    ) -> list[ChatRequest]:
        """One likelihood request per conversation (equal ones share a request and key)."""
        transport = self.transport()
        endpoint, model = transport.endpoint, transport.model
        made: dict[str, ChatRequest] = {}
        out = []
        for i, (messages, task) in enumerate(zip(conversations, tasks, strict=True)):
            msgs = tuple(dict(m) for m in messages)
            body = transport.build_score_body(msgs, task)
            # the options read decide the answer but are not sent: they enter the key only
            key = request_key(endpoint, model, {**body, "llmrec_score": task.to_json()})
            request = made.get(key)
            if request is None:
                request = ChatRequest(key, body, msgs, (), 0, i)
                made[key] = request
            out.append(request)
        return out

    def _scores(
        self, conversations: Sequence[Sequence[Mapping[str, str]]], tasks: Sequence[ScoreTask]
    ) -> list[list[tuple[float, int]]]:
        requests = self.plan_scores(conversations, tasks)
        labels: list[Sequence[int]] = [(r.index,) for r in requests]  # for replay messages
        answers = self._answers(labels, requests, progress=False)
        transport = self.transport()
        out = []
        for request, task in zip(requests, tasks, strict=True):
            answer = answers[request.key]
            if answer.error is not None:
                raise BackendError(
                    f"{self.endpoint} failed for likelihood {request.label}: {answer.error}"
                )
            out.append(transport.read_scores(task, answer.response))
        return out

    def option_logprobs(
        self, conversations: Sequence[Sequence[Mapping[str, str]]], options: Sequence[str]
    ) -> Any:
        """``(n, len(options))`` array: each option's first-token log-probability as the first
        answer token of each conversation (cached; ``-inf``: not among the server's top
        log-probabilities). Needs :data:`NEXT_TOKEN_LOGPROBS`."""
        import numpy as np

        self._require(NEXT_TOKEN_LOGPROBS)
        task = ScoreTask("next_token", tuple(options))
        read = self._scores(conversations, [task] * len(conversations))
        return np.asarray([[lp for lp, _ in row] for row in read], dtype=np.float64).reshape(
            len(conversations), len(options)
        )

    def continuation_logprobs(
        self, conversations: Sequence[Sequence[Mapping[str, str]]], answers: Sequence[str]
    ) -> tuple[Any, Any]:
        """``log P(answer | conversation)`` summed over the answer's tokens, and the token
        counts, per pair (two arrays; cached). Needs :data:`CONTINUATION_LOGPROBS`."""
        import numpy as np

        self._require(CONTINUATION_LOGPROBS)
        tasks = [ScoreTask("continuation", (a,)) for a in answers]
        read = self._scores(conversations, tasks)
        return (
            np.asarray([row[0][0] for row in read], dtype=np.float64),
            np.asarray([row[0][1] for row in read], dtype=np.int64),
        )

    def estimate_score_cost(
        self, conversations: Sequence[Sequence[Mapping[str, str]]], *, per_conversation: int = 1
    ) -> CostEstimate:
        """What scoring would send if nothing were cached: ``per_conversation`` requests per
        conversation (one for yes/no, one per candidate for continuations), input tokens exact
        (``o200k_base`` with chat overhead), one output token each."""
        from llmrec.openai_api.tokens import count_chat_tokens, get_encoding

        encoding = get_encoding()
        n_in = sum(count_chat_tokens(list(m), encoding=encoding) for m in conversations)
        n_in *= per_conversation
        requests = len(conversations) * per_conversation
        return CostEstimate(
            self.model_id, requests, n_in, requests, self.token_cost(n_in, requests)
        )

    def _answers(
        self,
        profiles: Sequence[Sequence[int]],
        requests: Sequence[ChatRequest],
        *,
        progress: bool,
        on_answer: Callable[[ChatRequest, ChatAnswer], None] | None = None,
    ) -> dict[str, ChatAnswer]:
        """The answer to every request by key: cached ones, then the rest in one send (each
        fresh answer is cached, then given to ``on_answer`` as it arrives)."""
        keys = [r.key for r in requests]
        answers = self.cached_answers(keys)
        self.check_replay(profiles, keys, answers)
        todo = list({r.key: r for r in requests if r.key not in answers}.values())
        if todo:
            bar = progress_bar(enabled=progress, total=len(todo), desc=self.model_id)

            def arrived(request: ChatRequest, answer: ChatAnswer) -> None:
                self.store(request, answer)
                if on_answer is not None:
                    on_answer(request, answer)
                bar.update(1)

            try:
                fresh = self._send(todo, arrived)
            finally:
                bar.close()
            answers.update((r.key, a) for r, a in zip(todo, fresh, strict=True))
        return answers

    def _send(
        self, todo: list[ChatRequest], arrived: Callable[[ChatRequest, ChatAnswer], None]
    ) -> list[ChatAnswer]:
        """Send ``todo`` through the transport; under a :class:`SpendLimit`, in groups whose
        worst case fits what is left of the budget (one group when everything fits), counting
        what each answer cost as it arrives, and stopping before a request that might not fit.
        """
        limit = self.spend_limit
        if limit is None:
            return self.transport().send(todo, on_answer=arrived)
        from llmrec.openai_api.tokens import count_chat_tokens, get_encoding

        encoding = get_encoding()
        worst = [
            self._worst_usd(count_chat_tokens(list(r.messages), encoding=encoding), 1) or 0.0
            for r in todo
        ]

        def counted(request: ChatRequest, answer: ChatAnswer) -> None:
            if not answer.cached:
                limit.add(answer.cost_usd)
            arrived(request, answer)

        out: list[ChatAnswer] = []
        start = 0
        while start < len(todo):
            room, end, total = limit.room(), start, 0.0
            while end < len(todo) and total + worst[end] <= room:
                total += worst[end]
                end += 1
            if end == start:
                raise limit.stop(
                    model=self.model_id, next_worst_usd=worst[start], unsent=len(todo) - start
                )
            out.extend(self.transport().send(todo[start:end], on_answer=counted))
            start = end
        return out


def _keyed_body(
    transport: Transport,
    messages: tuple[Mapping[str, str], ...],
    fmt: dict[str, Any] | None,
    profile: tuple[int, ...],
) -> dict[str, Any]:
    """The transport's body plus whatever else decides the answer (e.g. the catalog and the
    exclusions of constrained decoding), so the cache key covers it."""
    body = transport.build_body(messages, response_format=fmt)
    extra = transport.answer_depends_on(profile)
    if extra is not None:
        body = {**body, "answer_depends_on": extra}
    return body
