"""The ``openai`` backends: a chat model as a standalone recommender, through the official SDK.

Each profile becomes one chat-completions request built by the prompt template (the study's
system prompt and numbered list of the user's top movies); the answer is parsed back into titles
and resolved to catalog ids. Any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LiteLLM)
works through ``base_url``.

The backend is the language-model pipeline (:mod:`llmrec.recommenders.llm.pipeline`: template,
response cache, parse, resolve, diagnostics) with an OpenAI transport: chat completions on a
bounded thread pool with retries (:mod:`llmrec.recommenders.llm.transports.openai_chat`), or
with ``batch=True`` the Batch API at half the price
(:mod:`llmrec.recommenders.llm.transports.openai_batch`). Every answer goes into the sqlite
response cache the moment it arrives: a rerun sends no request for anything already answered,
an interrupted run resumes where it stopped, and ``cache_mode="replay_only"`` reproduces a run
offline or fails naming the first request it lacks.

The API key is read when the first request is actually needed (from ``api_key``, else
``OPENAI_API_KEY``, see :mod:`llmrec.openai_api.keys`); it is never written to the cache, a
config dump, a log line or an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from llmrec.errors import ConfigError
from llmrec.openai_api.endpoints import is_loopback_url
from llmrec.openai_api.keys import KEY_ENV, KEY_HELP, has_api_key
from llmrec.openai_api.models import DEFAULT_MODEL
from llmrec.recommenders.capabilities import Credentials, FineTunedArm, RunSettings
from llmrec.recommenders.llm.cache import ResponseCache
from llmrec.recommenders.llm.pipeline import LanguageModelRecommender
from llmrec.recommenders.llm.transports.base import ChatAnswer
from llmrec.recommenders.llm.transports.openai_batch import BatchHandle, OpenAIBatchTransport
from llmrec.recommenders.llm.transports.openai_chat import OpenAIChatTransport, OpenAISettings
from llmrec.recommenders.openai_config import CHAT_PATH as CHAT_PATH
from llmrec.recommenders.openai_config import OPENAI_BASE_URL as OPENAI_BASE_URL
from llmrec.recommenders.openai_config import OpenAIConfig
from llmrec.recommenders.openai_config import default_cache_path as default_cache_path

if TYPE_CHECKING:
    import openai as _openai_sdk
    from typing_extensions import Self

    from llmrec.recommenders.base import Recommendation

__all__ = [
    "DEFAULT_MODEL",
    "BatchHandle",
    "OpenAIConfig",
    "OpenAIFineTunedRecommender",
    "OpenAIRecommender",
    "ResponseCache",
    "fine_tuned",
    "zero_shot",
]

Answer = ChatAnswer
"""Deprecated alias of :class:`llmrec.recommenders.llm.transports.base.ChatAnswer`."""


def _answer_cost(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    batch: bool,
    config: OpenAIConfig | None = None,
) -> float | None:
    """USD at the config's prices (merged over the default table); 0 on a ``free`` server;
    ``None`` for a model without a price."""
    from llmrec.openai_api.prices import inference_cost, merge_prices

    if config is not None and config.free:
        return 0.0
    table = merge_prices(config.prices if config is not None else None)
    try:
        return inference_cost(model, prompt_tokens, completion_tokens, batch=batch, prices=table)
    except ConfigError:
        return None


class OpenAIRecommender(LanguageModelRecommender):
    """A chat model asked for recommendations, one request per profile (see module docstring).

    >>> rec = OpenAIRecommender(model=DEFAULT_MODEL, max_concurrency=16)
    >>> rec.fit(ratings, catalog).recommend_many(profiles, k=10)  # doctest: +SKIP
    """

    name: ClassVar[str] = "openai"
    config_class: ClassVar[type[BaseModel]] = OpenAIConfig
    config: OpenAIConfig

    # -- the pipeline's hooks ---------------------------------------------------------------
    def settings(self) -> OpenAISettings:
        cfg = self.config
        return OpenAISettings(
            model=cfg.model,
            base_url=cfg.resolved_base_url(),
            api_key=cfg.api_key,
            keyless_ok=self._keyless(),
            temperature=cfg.temperature,
            seed=cfg.seed,
            max_tokens=cfg.max_tokens,
            max_concurrency=cfg.max_concurrency,
            timeout=cfg.timeout,
            max_retries=cfg.max_retries,
            backoff_base=cfg.backoff_base,
            backoff_max=cfg.backoff_max,
            fail_fast=cfg.fail_fast,
        )

    def make_transport(self) -> OpenAIChatTransport:
        model, cfg = self.config.model, self.config
        price = lambda pt, ct, batch: _answer_cost(model, pt, ct, batch, cfg)  # noqa: E731
        if self.config.batch:
            return self._batch_transport(price)
        return OpenAIChatTransport(self.settings(), price=price)

    def _batch_transport(self, price: Any = None) -> OpenAIBatchTransport:
        cfg = self.config
        folder = (
            cfg.batch_dir if cfg.batch_dir is not None else self.cache_path().parent / "batches"
        )
        if price is None:
            model = cfg.model
            price = lambda pt, ct, batch: _answer_cost(model, pt, ct, batch, cfg)  # noqa: E731
        return OpenAIBatchTransport(
            self.settings(), state_dir=folder, poll_interval=cfg.batch_poll_interval, price=price
        )

    def response_format(self) -> dict[str, Any] | None:
        cfg = self.config
        if not cfg.structured_output:
            return None
        schema = cfg.template.response_format()
        if schema is None:
            raise ConfigError(
                "structured_output=True needs a template with output_format='json' "
                f"(got output_format={getattr(cfg.template, 'output_format', None)!r})"
            )
        return schema

    def _keyless(self) -> bool:
        """No key needed: said in the config, or the server is on this machine."""
        return self.config.api_key_optional or is_loopback_url(self.config.resolved_base_url())

    def credentials(self) -> Credentials:
        present = has_api_key(self.config.api_key) or self._keyless()
        return Credentials((KEY_ENV,), present, KEY_HELP)

    def token_cost(self, input_tokens: int, output_tokens: int) -> float | None:
        cfg = self.config
        return _answer_cost(cfg.model, input_tokens, output_tokens, cfg.batch, cfg)

    def with_run_settings(self, settings: RunSettings) -> Self:
        copy = super().with_run_settings(settings)
        cfg = self.config
        changes: dict[str, Any] = {}
        if settings.base_url is not None and cfg.base_url is None:
            changes["base_url"] = settings.base_url
            if settings.keyless_server:
                changes["api_key_optional"] = True
            if settings.free and "free" not in cfg.model_fields_set:
                changes["free"] = True  # the experiment's server is the one said to be free
        if settings.prices:
            changes["prices"] = {**settings.prices, **cfg.prices}  # the backend's own win
        if settings.fail_fast is not None and "fail_fast" not in cfg.model_fields_set:
            changes["fail_fast"] = settings.fail_fast
        return copy._copy(**changes) if changes else copy

    # -- public helpers kept from 0.1 -------------------------------------------------------
    def cost(self, prompt_tokens: int, completion_tokens: int, *, batch: bool) -> float | None:
        """USD for one answer at the price table's rate; ``None`` for models without a price."""
        return _answer_cost(self.config.model, prompt_tokens, completion_tokens, batch, self.config)

    def client(self) -> _openai_sdk.OpenAI:
        """The SDK client, built on first use; the API key is resolved here and only here."""
        transport = self.transport()
        assert isinstance(transport, OpenAIChatTransport)
        return transport.client()

    def request_body(self, profile: Sequence[int], k: int) -> dict[str, Any]:
        """The chat-completions body for one profile (what is sent, cached and batched)."""
        return self.plan([tuple(profile)], k)[0].body

    # -- Batch API --------------------------------------------------------------------------
    def submit_batch(
        self, profiles: Sequence[Sequence[int]], k: int = 10, state_path: str | Path | None = None
    ) -> BatchHandle:
        """Send every uncached request as one Batch API job; return its handle.

        If ``state_path`` already tracks a batch for exactly these requests that has not ended
        yet, that batch is reused instead of paying for a second one; after it ended (its
        answers are cached), only the requests it did not answer are submitted again.
        """
        requests = self.plan(profiles, k)
        keys = [r.key for r in requests]
        have = self.cached_answers(keys)
        self.check_replay(profiles, keys, have)
        todo = list({r.key: r for r in requests if r.key not in have}.values())
        extra = {
            "k": k,
            "profiles": [list(p) for p in profiles],
            "config": self.config.model_dump(mode="json"),
        }
        transport = self._batch_transport()
        try:
            path = Path(state_path) if state_path is not None else None
            return transport.submit(todo, keys=keys, state_path=path, extra=extra)
        finally:
            transport.close()

    def collect_batch(
        self,
        state: BatchHandle | str | Path,
        *,
        wait: bool = True,
        poll_interval: float | None = None,
    ) -> list[Recommendation] | None:
        """Collect a submitted batch into recommendations, in the order the profiles were given.

        Returns ``None`` when the batch is still running and ``wait`` is false. Raises
        :class:`~llmrec.errors.BackendError` if the batch failed or some requests have no answer
        (those that do are cached, so a normal run afterwards requests only the rest).
        """
        from llmrec.recommenders.llm.transports.openai_batch import read_state

        path = state.state_path if isinstance(state, BatchHandle) else Path(state)
        st = read_state(path)
        keys: list[str] = st["keys"]
        profiles = [tuple(int(m) for m in p) for p in st["profiles"]]
        k = int(st["k"])
        answers = self.cached_answers(keys)
        transport = self._batch_transport()
        try:
            got = transport.collect(path, have=set(answers), wait=wait, poll_interval=poll_interval)
        finally:
            transport.close()
        if got is None:
            return None
        st, fresh, failures = got
        if fresh:
            by_key = {r.key: r for r in self.plan(profiles, k)}
            for key, answer in fresh.items():
                if key in by_key:
                    self.store(by_key[key], answer)
        OpenAIBatchTransport.check_complete(st, set(answers) | set(fresh), failures)
        answers.update(fresh)
        OpenAIBatchTransport.mark_collected(path, st, bool(fresh))
        return [
            self._enforce(p, self.to_recommendation(p, k, key, answers[key]), k)
            for p, key in zip(profiles, keys, strict=True)
        ]


class OpenAIFineTunedRecommender(OpenAIRecommender):
    """The study's fine-tuned recommender; ``model`` must be a fine-tuned id (``ft:...``).

    Registered as ``openai-fine-tuned``; the experiment runner gives it the model produced by
    its fine-tuning stage (``fine_tuned_arm = "sft"``, stated on the class: every instance
    runs it, and the runner must give the model before building one).
    """

    fine_tuned_arm: FineTunedArm | None = "sft"

    def __init__(self, config: OpenAIConfig | None = None, /, **kwargs: Any) -> None:
        model = config.model if config is not None else kwargs.get("model")
        if not isinstance(model, str) or not model.startswith("ft:"):
            raise ConfigError(
                "openai-fine-tuned needs the fine-tuned model id, which starts with 'ft:' "
                "(e.g. model='ft:<base model>:my-org::abc123', printed when the "
                f"fine-tuning job finishes); got model={model!r}"
            )
        super().__init__(config, **kwargs)


def zero_shot(config: OpenAIConfig | None = None, /, **kwargs: Any) -> OpenAIRecommender:
    """The study's zero-shot recommender: :data:`DEFAULT_MODEL` with the study's prompt."""
    if config is None:
        kwargs.setdefault("model", DEFAULT_MODEL)
    return OpenAIRecommender(config, **kwargs)


def fine_tuned(config: OpenAIConfig | None = None, /, **kwargs: Any) -> OpenAIRecommender:
    """The study's fine-tuned recommender; ``model`` must be a fine-tuned id (``ft:...``)."""
    return OpenAIFineTunedRecommender(config, **kwargs)
