"""The local ``transformers`` transport: batched greedy generation on this machine's CPU or GPU.

It wraps :class:`llmrec.local_models.LocalModel` (a hub id, a model folder, or an output folder
of ``llmrec finetune local``, a LoRA adapter loaded on its base) and answers the pipeline's
:class:`~.base.ChatRequest` batches with chat-completions-shaped responses
(``choices[0].message.content``, ``finish_reason``, ``usage``), so the response cache, the
parser, title resolution, diagnostics and usage work exactly as for the OpenAI transports.

* Requests are rendered with the model's chat template, sorted by prompt length (longest first,
  as ``LocalModel.generate`` does) and generated greedily in left-padded batches of
  ``batch_size``; each batch's answers go to ``on_answer`` (the cache) as soon as it ends, so an
  interrupted run keeps every finished batch. Output does not depend on the batch size or on
  which requests share a batch (up to float round-off in padded attention).
* The cache key names the weights by content (:attr:`TransformersTransport.model`: the SHA-256
  of the model folder, plus the adapter's; ``hub:ID@COMMIT`` for a hub model) and the body holds
  the generation settings, so a moved folder still hits the cache and retrained weights miss it.
* ``constrained=True`` (capability :data:`~.base.CATALOG_CONSTRAINED`) restricts decoding to the
  catalog's labels in the numbered format, without repeats and without the request's profile
  movies (``ChatRequest.profile``), ``ChatRequest.k`` items per answer
  (:class:`llmrec.local_models.CatalogConstraint`, one per ``k``, built once). What the
  constraint allows depends on the catalog and the profile, so both enter the cache key
  (:meth:`TransformersTransport.answer_depends_on`): an answer constrained to one catalog is
  never served for another.

* Likelihood requests (capabilities :data:`~.base.NEXT_TOKEN_LOGPROBS` and
  :data:`~.base.CONTINUATION_LOGPROBS`) are exact log-probabilities from one forward pass per
  batch of ``batch_size``, no generation (:mod:`llmrec.local_models.likelihood`), with or
  without a LoRA adapter; the answer is a chat-completions-shaped response with no choices and
  the values under ``"llmrec_scores"``, cached like any answer.

torch and transformers are imported on first use; without the ``[train]`` extra that use raises
:class:`~llmrec.finetune.local.MissingExtraError` naming ``pip install 'llmrec[train]'``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from llmrec.errors import ConfigError
from llmrec.recommenders.llm.transports.base import (
    CATALOG_CONSTRAINED,
    CONTINUATION_LOGPROBS,
    NEXT_TOKEN_LOGPROBS,
    AnswerCallback,
    ChatAnswer,
    ChatRequest,
    ScoreTask,
    Transport,
)

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.local_models.constrained import CatalogConstraint
    from llmrec.local_models.engine import LocalModel
    from llmrec.prompts import PromptTemplate

__all__ = [
    "ENDPOINT",
    "TransformersSettings",
    "TransformersTransport",
    "catalog_sha256",
    "weights_identity",
]

ENDPOINT = "local:transformers"
"""The endpoint of every local answer (the weights are named by :attr:`Transport.model`)."""


@dataclass(frozen=True)
class TransformersSettings:
    """What the transport loads and how it generates."""

    model: str
    base_model: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 16
    max_new_tokens: int = 256
    constrained: bool = False
    chat_template: str | None = None


def weights_identity(model: str, base_model: str | None = None) -> str | None:
    """The name ``LocalModel.weights`` gives a local folder, computed without loading it.

    ``sha256:<folder hash>`` for a model folder, ``...+adapter:<adapter hash>`` for a LoRA
    adapter on a local base; ``None`` when the base is a hub id (its commit is known only once
    loaded).
    """
    from llmrec.local_models.fingerprint import folder_sha256
    from llmrec.local_models.load import adapter_base

    folder = Path(model)
    if not folder.is_dir():
        return None
    if not (folder / "adapter_config.json").is_file():
        return f"sha256:{folder_sha256(folder)}"
    base = adapter_base(folder, base_model)
    if not Path(base).is_dir():
        return None
    return f"sha256:{folder_sha256(base)}+adapter:{folder_sha256(folder)}"


def catalog_sha256(catalog: Catalog) -> str:
    """SHA-256 of a catalog's entries (id, title, year; in id order) as canonical JSON."""
    import hashlib
    import json

    rows = [[m.movie_id, m.title, m.year] for m in catalog]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(request: ChatRequest) -> list[dict[str, str]]:
    return [dict(m) for m in request.messages]


class TransformersTransport(Transport):
    """Answers chat requests with a local model (see the module docstring); thread-safe."""

    capabilities: ClassVar[frozenset[str]] = frozenset(
        {CATALOG_CONSTRAINED, NEXT_TOKEN_LOGPROBS, CONTINUATION_LOGPROBS}
    )

    def __init__(
        self,
        settings: TransformersSettings,
        *,
        catalog: Catalog | None = None,
        template: PromptTemplate | None = None,
    ) -> None:
        self.settings = settings
        self._catalog = catalog
        self._template = template
        self._lock = threading.RLock()
        self._generate_lock = threading.Lock()
        self._local: LocalModel | None = None
        self._weights: str | None = None
        self._dtype: str | None = None
        self._constraints: dict[int, CatalogConstraint] = {}
        self._catalog_fingerprint: str | None = None

    # -- identity ---------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return ENDPOINT

    @property
    def model(self) -> str:
        """The weights' content identity (what the cache key names)."""
        with self._lock:
            if self._weights is None:
                cheap = weights_identity(self.settings.model, self.settings.base_model)
                self._weights = cheap if cheap is not None else self.local_model().weights
            return self._weights

    def dtype(self) -> str:
        """The dtype the weights run in (``torch.float32`` etc.), resolved like the loader."""
        with self._lock:
            if self._dtype is None:
                if self._local is not None:
                    self._dtype = self._local.dtype
                else:
                    from llmrec.local_models.load import resolve_device, resolve_dtype

                    device = resolve_device(self.settings.device)
                    self._dtype = str(resolve_dtype(self.settings.dtype, device))
            return self._dtype

    def local_model(self) -> LocalModel:
        """The loaded model (loaded on first use, shared by every thread)."""
        with self._lock:
            if self._local is None:
                from llmrec.local_models.engine import LocalModel

                s = self.settings
                self._local = LocalModel(
                    s.model,
                    base_model=s.base_model,
                    device=s.device,
                    dtype=s.dtype,
                    batch_size=s.batch_size,
                    chat_template=s.chat_template,
                )
            return self._local

    def use_catalog(self, catalog: Catalog, template: PromptTemplate) -> None:
        """The catalog and template constrained decoding keeps answers in (after ``fit``)."""
        with self._lock:
            self._catalog, self._template = catalog, template
            self._constraints.clear()
            self._catalog_fingerprint = None

    def constraint(self, k: int) -> CatalogConstraint:
        """The catalog constraint for ``k``-item answers (built once per ``k``)."""
        with self._lock:
            if k not in self._constraints:
                if self._catalog is None:
                    raise ConfigError(
                        "constrained decoding needs the catalog: fit the recommender first"
                    )
                self._constraints[k] = self.local_model().constraint(
                    self._catalog, self._template, k=k
                )
            return self._constraints[k]

    # -- the contract -----------------------------------------------------------------------
    def build_body(
        self, messages: Sequence[Mapping[str, str]], *, response_format: dict[str, Any] | None
    ) -> dict[str, Any]:
        if response_format is not None:
            raise ConfigError(
                "the transformers backend does not enforce a JSON schema (response_format); "
                "use constrained=True with the numbered output format instead"
            )
        s = self.settings
        return {
            "messages": [dict(m) for m in messages],
            "decoding": "greedy",
            "max_new_tokens": s.max_new_tokens,
            "constrained": s.constrained,
            "dtype": self.dtype(),
            "chat_template": s.chat_template,
        }

    def answer_depends_on(self, profile: Sequence[int]) -> dict[str, Any] | None:
        """With ``constrained=True``: the catalog's fingerprint and the excluded movies (the
        request's profile), which decide what the constraint lets the model write."""
        if not self.settings.constrained:
            return None
        return {"catalog": self.catalog_fingerprint(), "exclude": sorted(set(profile))}

    def catalog_fingerprint(self) -> str:
        """SHA-256 of the catalog constrained decoding uses (ids, titles, years in id order)."""
        with self._lock:
            if self._catalog is None:
                raise ConfigError(
                    "constrained decoding needs the catalog: fit the recommender first"
                )
            if self._catalog_fingerprint is None:
                self._catalog_fingerprint = catalog_sha256(self._catalog)
            return self._catalog_fingerprint

    def send(
        self,
        requests: Sequence[ChatRequest],
        *,
        on_answer: AnswerCallback | None = None,
    ) -> list[ChatAnswer]:
        """Generate every request in batches (one batch = one ``k``); answers in input order.
        Likelihood requests (a ``"score"`` body) are read in forward passes instead."""
        if not requests:
            return []
        scored = [i for i, r in enumerate(requests) if "score" in r.body]
        if scored:
            rest = [i for i, r in enumerate(requests) if "score" not in r.body]
            out_all: list[ChatAnswer | None] = [None] * len(requests)
            scores = self._score([requests[i] for i in scored], on_answer)
            for i, answer in zip(scored, scores, strict=True):
                out_all[i] = answer
            if rest:
                generated = self.send([requests[i] for i in rest], on_answer=on_answer)
                for i, answer in zip(rest, generated, strict=True):
                    out_all[i] = answer
            return [a for a in out_all if a is not None]
        local = self.local_model()
        lengths = [
            len(local.tokenizer(local.render(_plain(r)), add_special_tokens=False)["input_ids"])
            for r in requests
        ]
        order = sorted(range(len(requests)), key=lambda i: (requests[i].k, -lengths[i], i))
        out: list[ChatAnswer | None] = [None] * len(requests)
        size = self.settings.batch_size
        start = 0
        while start < len(order):
            k = requests[order[start]].k
            chunk = [i for i in order[start : start + size] if requests[i].k == k]
            start += len(chunk)
            batch = [requests[i] for i in chunk]
            for i, answer in zip(chunk, self._generate(local, batch, k), strict=True):
                out[i] = answer
                if on_answer is not None:
                    on_answer(requests[i], answer)
        return [a for a in out if a is not None]

    def _generate(self, local: LocalModel, batch: list[ChatRequest], k: int) -> list[ChatAnswer]:
        constraint = self.constraint(k) if self.settings.constrained else None
        began = time.perf_counter()
        with self._generate_lock:  # one forward pass at a time on the shared model
            results = local.generate(
                [_plain(r) for r in batch],
                max_new_tokens=self.settings.max_new_tokens,
                constrained_to=constraint,
                exclude=[r.profile for r in batch] if constraint is not None else None,
            )
        latency = (time.perf_counter() - began) / len(batch)
        answers = []
        for result in results:
            response = {
                "object": "chat.completion",
                "model": self.settings.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.text},
                        "finish_reason": result.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": result.prompt_tokens,
                    "completion_tokens": result.completion_tokens,
                    "total_tokens": result.prompt_tokens + result.completion_tokens,
                },
            }
            answers.append(
                ChatAnswer(
                    response, result.prompt_tokens, result.completion_tokens, 0.0, latency, 1
                )
            )
        return answers

    # -- likelihood ---------------------------------------------------------------------------
    def build_score_body(
        self, messages: Sequence[Mapping[str, str]], task: ScoreTask
    ) -> dict[str, Any]:
        s = self.settings
        return {
            "messages": [dict(m) for m in messages],
            "score": task.to_json(),
            "dtype": self.dtype(),
            "chat_template": s.chat_template,
        }

    def read_scores(self, task: ScoreTask, response: Mapping[str, Any]) -> list[tuple[float, int]]:
        return [(float(lp), int(n)) for lp, n in response["llmrec_scores"]]

    def _score(
        self, requests: list[ChatRequest], on_answer: AnswerCallback | None
    ) -> list[ChatAnswer]:
        """Likelihood requests in batches of ``batch_size`` (each batch cached as it ends)."""
        local = self.local_model()
        out: list[ChatAnswer] = []
        size = self.settings.batch_size
        for start in range(0, len(requests), size):
            batch = requests[start : start + size]
            began = time.perf_counter()
            rows: list[tuple[list[list[float]], int]] = []
            with self._generate_lock:
                nexts = [r for r in batch if r.body["score"]["kind"] == "next_token"]
                conts = [r for r in batch if r.body["score"]["kind"] != "next_token"]
                by_key: dict[int, tuple[list[list[float]], int]] = {}
                # requests of one batch share their options (one task per call)
                for options in {tuple(r.body["score"]["options"]) for r in nexts}:
                    group = [r for r in nexts if tuple(r.body["score"]["options"]) == options]
                    read = local.next_token_logprobs([_plain(r) for r in group], options)
                    for r, (lps, n_prompt) in zip(group, read, strict=True):
                        by_key[id(r)] = ([[lp, 1] for lp in lps], n_prompt)
                if conts:
                    pairs = [(_plain(r), r.body["score"]["options"][0]) for r in conts]
                    for r, (lp, n, n_prompt) in zip(
                        conts, local.continuation_logprobs(pairs), strict=True
                    ):
                        by_key[id(r)] = ([[lp, n]], n_prompt)
                rows = [by_key[id(r)] for r in batch]
            latency = (time.perf_counter() - began) / len(batch)
            for request, (scores, n_prompt) in zip(batch, rows, strict=True):
                response = {
                    "object": "llmrec.scores",
                    "model": self.settings.model,
                    "choices": [],
                    "llmrec_scores": scores,
                    "usage": {
                        "prompt_tokens": n_prompt,
                        "completion_tokens": 0,
                        "total_tokens": n_prompt,
                    },
                }
                answer = ChatAnswer(response, n_prompt, 0, 0.0, latency, 1)
                out.append(answer)
                if on_answer is not None:
                    on_answer(request, answer)
        return out

    def close(self) -> None:
        """Drop the loaded model (it reloads on next use)."""
        with self._lock:
            self._local = None
            self._constraints.clear()
