"""The ``openai`` backend: a chat model as a standalone recommender, through the official SDK.

Each profile becomes one chat-completions request built by the prompt template (the study's
system prompt and numbered list of the user's top movies); the answer is parsed back into titles
and resolved to catalog ids. Any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LiteLLM)
works through ``base_url``.

Every answer goes into an sqlite response cache the moment it arrives (see
:mod:`llmrec.recommenders._llm_cache`): a rerun sends no request for anything already answered,
an interrupted run resumes where it stopped, and ``cache_mode="replay_only"`` reproduces a run
offline or fails naming the first request it lacks. Requests run on a bounded thread pool with
retries for 429, 5xx, timeouts and dropped connections (see
:mod:`llmrec.recommenders._concurrency`). ``batch=True`` sends everything through the Batch API
at half the price (see :mod:`llmrec.recommenders._batch`).

The API key is read when the first request is actually needed (from ``api_key``, else
``OPENAI_API_KEY``); it is never written to the cache, a config dump, a log line or an error.

This module holds the backend class and the study's two presets; the settings and the API key
live in :mod:`llmrec.recommenders._openai_config`, the SDK client and which errors are retried
in :mod:`llmrec.recommenders._openai_client`, and turning an answer into a recommendation in
:mod:`llmrec.recommenders._openai_answers`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from llmrec._progress import progress_bar
from llmrec.errors import BackendError, CacheMissError, ConfigError, NotFittedError
from llmrec.recommenders._concurrency import RetryPolicy, call_with_retries, map_bounded
from llmrec.recommenders._llm_cache import ResponseCache, request_key
from llmrec.recommenders._openai_answers import Answer as Answer
from llmrec.recommenders._openai_answers import answer_cost, recommendation_from_answer, usage
from llmrec.recommenders._openai_client import build_client, classify
from llmrec.recommenders._openai_config import CHAT_PATH as CHAT_PATH
from llmrec.recommenders._openai_config import DEFAULT_MODEL as DEFAULT_MODEL
from llmrec.recommenders._openai_config import KEY_HELP, redact
from llmrec.recommenders._openai_config import OPENAI_BASE_URL as OPENAI_BASE_URL
from llmrec.recommenders._openai_config import OpenAIConfig as OpenAIConfig
from llmrec.recommenders._openai_config import default_cache_path as default_cache_path
from llmrec.recommenders.base import Profile, Recommendation, Recommender

if TYPE_CHECKING:
    import openai as _openai_sdk

    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings
    from llmrec.recommenders._batch import BatchHandle

__all__ = ["OpenAIConfig", "OpenAIRecommender", "ResponseCache", "fine_tuned", "zero_shot"]

log = logging.getLogger("llmrec.recommenders.openai")


class OpenAIRecommender(Recommender):
    """A chat model asked for recommendations, one request per profile (see module docstring).

    >>> rec = OpenAIRecommender(model="gpt-4o-mini-2024-07-18", max_concurrency=16)
    >>> rec.fit(ratings, catalog).recommend_many(profiles, k=10)  # doctest: +SKIP
    """

    name: ClassVar[str] = "openai"
    config_class: ClassVar[type[BaseModel]] = OpenAIConfig
    # Hand every profile of a call to one thread pool, so workers never idle at chunk ends.
    chunk_size: ClassVar[int] = 1 << 20
    config: OpenAIConfig

    def __init__(self, config: OpenAIConfig | None = None, /, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        # Runtime handles, opened on first use and never pickled.
        self._lock = threading.Lock()
        self._client: _openai_sdk.OpenAI | None = None
        self._cache: ResponseCache | None = None
        self._show_progress = False

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_lock", "_client", "_cache"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._client = None
        self._cache = None

    def recommend_many(
        self, profiles: Sequence[Profile], k: int = 10, *, progress: bool = False
    ) -> list[Recommendation]:
        """The top ``k`` movies for each profile, in input order (one request per distinct
        uncached profile, ``max_concurrency`` at a time; ``progress`` counts requests)."""
        self._show_progress = progress
        try:
            return super().recommend_many(profiles, k, progress=False)
        finally:
            self._show_progress = False

    # -- state ----------------------------------------------------------------------------
    def _fit(
        self, ratings: Ratings, catalog: Catalog | None = None, examples: object = None
    ) -> None:
        """Keep the catalog (titles for the prompt) and build the title resolver."""
        from llmrec.data.resolver import TitleResolver

        if catalog is None:
            raise ConfigError(
                "the openai backend needs a catalog (movie titles for the prompt and for "
                "resolving the answer): call fit(ratings, catalog)"
            )
        self.catalog_ = catalog
        self.resolver_ = TitleResolver(catalog, threshold=self.config.resolver_threshold)

    @property
    def endpoint(self) -> str:
        """The chat-completions URL requests go to (part of every cache key)."""
        return self.config.resolved_base_url() + CHAT_PATH

    @property
    def response_cache(self) -> ResponseCache | None:
        """The response cache read and written, or ``None`` with ``cache_mode="off"``."""
        if self.config.cache_mode == "off":
            return None
        with self._lock:
            if self._cache is None:
                self._cache = ResponseCache(self.config.resolved_cache_path())
                weakref.finalize(self, self._cache.close)
            return self._cache

    def client(self) -> _openai_sdk.OpenAI:
        """The SDK client, built on first use; the API key is resolved here and only here."""
        with self._lock:
            if self._client is not None:
                return self._client
            made = build_client(self.config, self.endpoint)
            self._client = made
            # Close the connection pool when the recommender is garbage collected.
            weakref.finalize(self, made.close)
            return made

    def __enter__(self) -> OpenAIRecommender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections and the cache file (both reopen on next use)."""
        with self._lock:
            made, self._client = self._client, None
            cache, self._cache = self._cache, None
        if made is not None:
            made.close()
        if cache is not None:
            cache.close()

    # -- requests -------------------------------------------------------------------------
    def _check_fitted(self) -> Catalog:
        catalog: Catalog | None = getattr(self, "catalog_", None)
        if catalog is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(ratings, catalog)")
        return catalog

    def request_body(self, profile: Sequence[int], k: int) -> dict[str, Any]:
        """The chat-completions body for one profile (what is sent, cached and batched).

        Profile movies missing from the catalog have no title to write and are left out.
        """
        cfg = self.config
        catalog = self._check_fitted()
        known = tuple(m for m in profile if m in catalog)
        body: dict[str, Any] = {
            "model": cfg.model,
            "messages": cfg.template.messages(known, catalog, k=k),
            "temperature": cfg.temperature,
        }
        if cfg.seed is not None:
            body["seed"] = cfg.seed
        if cfg.max_tokens is not None:
            body["max_tokens"] = cfg.max_tokens
        if cfg.structured_output:
            schema = cfg.template.response_format()
            if schema is None:
                raise ConfigError(
                    "structured_output=True needs a template with output_format='json' "
                    f"(got output_format={getattr(cfg.template, 'output_format', None)!r})"
                )
            body["response_format"] = schema
        return body

    def cost(self, prompt_tokens: int, completion_tokens: int, *, batch: bool) -> float | None:
        """USD for one answer at the price table's rate; ``None`` for models without a price."""
        return answer_cost(self.config.model, prompt_tokens, completion_tokens, batch=batch)

    def _send(self, item: tuple[int, str, dict[str, Any]]) -> Answer:
        """Send one request with retries; store the answer in the cache before returning it."""
        index, key, body = item
        client = self.client()
        cfg = self.config
        policy = RetryPolicy(cfg.max_retries, cfg.backoff_base, cfg.backoff_max)
        label = f"profile #{index} (request {key[:12]})"
        started = time.perf_counter()

        def call() -> dict[str, Any]:
            # ``post`` (the SDK's documented call for raw requests) sends the body exactly as
            # built and hashed for the cache, and skips the typed parameter transformation,
            # which costs about as much CPU as the HTTP exchange itself.
            data: object = client.post(CHAT_PATH, body=body, cast_to=object)
            if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
                raise BackendError(
                    f"{self.endpoint} answered {label} without a 'choices' list (not cached): "
                    f"{redact(str(data))[:300]}"
                )
            return data

        import openai

        try:
            response, attempts = call_with_retries(
                call,
                classify=classify,
                policy=policy,
                rng=random.Random(int(key[:16], 16)),
                label=label,
            )
        except openai.APIStatusError as exc:
            hint = f"; {KEY_HELP}" if exc.status_code == 401 else ""
            raise BackendError(
                f"{self.endpoint} answered HTTP {exc.status_code} to {label}: "
                f"{redact(exc.message)}{hint}"
            ) from None
        except openai.APIError as exc:
            raise BackendError(
                f"{self.endpoint} failed for {label} after {cfg.max_retries + 1} attempts "
                f"(timeout {cfg.timeout} s): {redact(exc.message)}"
            ) from None
        latency = time.perf_counter() - started
        pt, ct = usage(response)
        cost = self.cost(pt, ct, batch=False)
        cache = self.response_cache
        if cache is not None:
            cache.put(
                key,
                endpoint=self.endpoint,
                model=cfg.model,
                request=body,
                response=response,
                prompt_tokens=pt,
                completion_tokens=ct,
                cost_usd=cost,
                latency_s=latency,
            )
        return Answer(response, pt, ct, cost, latency, attempts, False, False)

    def plan(
        self, profiles: Sequence[Sequence[int]], k: int
    ) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """Cache key of each profile's request, and each distinct key's body (first seen)."""
        keys: list[str] = []
        bodies: dict[str, dict[str, Any]] = {}
        endpoint, model = self.endpoint, self.config.model
        for profile in profiles:
            body = self.request_body(profile, k)
            key = request_key(endpoint, model, body)
            keys.append(key)
            bodies.setdefault(key, body)
        return keys, bodies

    def cached_answers(self, keys: Sequence[str]) -> dict[str, Answer]:
        """Answers already in the cache, in one lookup (none with ``cache_mode="off"``)."""
        cache = self.response_cache
        if cache is None:
            return {}
        return {key: Answer.from_cache(hit) for key, hit in cache.get_many(keys).items()}

    def check_replay(
        self, profiles: Sequence[Sequence[int]], keys: Sequence[str], have: Any
    ) -> None:
        """In ``replay_only`` mode, fail naming the first profile whose answer is not cached."""
        if self.config.cache_mode != "replay_only":
            return
        missing = [i for i, key in enumerate(keys) if key not in have]
        if missing:
            i = missing[0]
            raise CacheMissError(
                f"replay_only: {len(missing)} of {len(keys)} profiles have no answer in the cache "
                f"{self.config.resolved_cache_path()}; first: profile #{i} {tuple(profiles[i])} "
                f"(request {keys[i]}, model {self.config.model!r}, endpoint {self.endpoint}). "
                "Run once with cache_mode='read_write' to fill it."
            )

    def _recommend_many(self, profiles: list[tuple[int, ...]], k: int) -> list[Recommendation]:
        if self.config.batch:
            from llmrec.recommenders._batch import run_batch

            return run_batch(self, profiles, k)
        keys, bodies = self.plan(profiles, k)
        answers = self.cached_answers(keys)
        self.check_replay(profiles, keys, answers)
        where: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            where.setdefault(key, []).append(i)
        out: list[Recommendation | None] = [None] * len(profiles)
        todo = [(where[key][0], key, body) for key, body in bodies.items() if key not in answers]

        def build(key: str, answer: Answer) -> None:
            for i in where[key]:
                out[i] = self.to_recommendation(profiles[i], k, key, answer)

        if todo:
            self.client()  # resolve the API key once, before any thread starts
            bar = progress_bar(
                enabled=self._progress_enabled(), total=len(todo), desc=self.config.model
            )

            def arrived(j: int, answer: Answer) -> None:
                # Parsing here, in the calling thread, overlaps with requests still in flight.
                build(todo[j][1], answer)
                bar.update(1)

            try:
                map_bounded(
                    self._send, todo, max_workers=self.config.max_concurrency, on_done=arrived
                )
            finally:
                bar.close()
        for key, answer in answers.items():
            build(key, answer)
        return [r for r in out if r is not None]

    def _progress_enabled(self) -> bool:
        return self._show_progress

    # -- answers --------------------------------------------------------------------------
    def to_recommendation(
        self, profile: Sequence[int], k: int, key: str, answer: Answer
    ) -> Recommendation:
        """Parse an answer's text, resolve titles to ids, and report what was lost on the way.

        Kept: resolved ids that are neither profile movies nor repeats, at most ``k``, in the
        model's order; score = 1 / (rank in the model's list), so it never increases.
        Unresolved titles (not in the catalog: hallucinations) are listed in ``diagnostics``.
        """
        return recommendation_from_answer(
            profile, k, key, answer, template=self.config.template, resolver=self.resolver_
        )

    # -- Batch API --------------------------------------------------------------------------
    def submit_batch(
        self, profiles: Sequence[Sequence[int]], k: int = 10, state_path: str | Path | None = None
    ) -> BatchHandle:
        """Send every uncached request as one Batch API job; see :func:`_batch.submit_batch`."""
        from llmrec.recommenders._batch import submit_batch

        return submit_batch(self, profiles, k, state_path=state_path)

    def collect_batch(
        self,
        state: BatchHandle | str | Path,
        *,
        wait: bool = True,
        poll_interval: float | None = None,
    ) -> list[Recommendation] | None:
        """Collect a submitted batch (``None`` if not finished and ``wait=False``)."""
        from llmrec.recommenders._batch import collect_batch

        return collect_batch(self, state, wait=wait, poll_interval=poll_interval)


def zero_shot(config: OpenAIConfig | None = None, /, **kwargs: Any) -> OpenAIRecommender:
    """The study's zero-shot recommender: ``gpt-4o-mini-2024-07-18`` with the study's prompt."""
    if config is None:
        kwargs.setdefault("model", DEFAULT_MODEL)
    return OpenAIRecommender(config, **kwargs)


def fine_tuned(config: OpenAIConfig | None = None, /, **kwargs: Any) -> OpenAIRecommender:
    """The study's fine-tuned recommender; ``model`` must be a fine-tuned id (``ft:...``)."""
    model = config.model if config is not None else kwargs.get("model")
    if not isinstance(model, str) or not model.startswith("ft:"):
        raise ConfigError(
            "openai-fine-tuned needs the fine-tuned model id, which starts with 'ft:' "
            "(e.g. model='ft:gpt-4o-mini-2024-07-18:my-org::abc123', printed when the "
            f"fine-tuning job finishes); got model={model!r}"
        )
    return OpenAIRecommender(config, **kwargs)
