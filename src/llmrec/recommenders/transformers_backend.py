"""The ``transformers`` backend: an open-weights chat model on this machine as a recommender.

``get_recommender("transformers", model=..., device="auto", dtype="auto", batch_size=16,
max_new_tokens=256, constrained=False, cache=...)``. ``model`` is a hub id, a model folder, or
an output folder of ``llmrec finetune local`` (full weights or a LoRA adapter on the base it
names). It is the language-model pipeline of the OpenAI backends (prompt template, response
cache, parsing, title resolution, ``raw_text``, diagnostics, usage) with the local transport
:mod:`llmrec.recommenders.llm.transports.transformers`: batched greedy generation, cache keyed
by the weights' content hash and the generation settings. ``constrained=True`` restricts decoding
to catalog titles (no hallucinations, repeats or profile movies, by construction).

Capability protocol: nothing is billed (``cost_usd`` 0) and no credential is needed; token
estimates use the model's own tokenizer and chat template. ``fine_tuned=True`` marks the arm
(``fine_tuned_arm = "sft"``) the experiment runner points at the model its local fine-tuning
stage trained
(:meth:`~llmrec.recommenders.llm.pipeline.LanguageModelRecommender.with_model`);
``fine_tuned="dpo"`` (``fine_tuned_arm = "dpo"``) the arm that runs its DPO arm's model
(``[finetune.local.dpo]``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from llmrec.errors import ConfigError
from llmrec.recommenders.capabilities import CostEstimate, Credentials
from llmrec.recommenders.llm.config import LanguageModelConfig
from llmrec.recommenders.llm.pipeline import LanguageModelRecommender

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings
    from llmrec.recommenders.base import Recommendation
    from llmrec.recommenders.llm.transports.base import ChatAnswer
    from llmrec.recommenders.llm.transports.transformers import TransformersTransport

__all__ = ["TransformersConfig", "TransformersRecommender"]


class TransformersConfig(LanguageModelConfig):
    """Settings of the ``transformers`` backend (the cache, template and resolver fields come
    from :class:`~llmrec.recommenders.llm.config.LanguageModelConfig`)."""

    model: str | None = Field(
        None,
        description="Hub id, model folder, or `llmrec finetune local --out` folder; may be "
        "left out only with fine_tuned=True (the experiment runner sets it).",
    )
    base_model: str | None = Field(
        None, description="Base of a LoRA adapter folder (default: the one the adapter names)."
    )
    fine_tuned: bool | Literal["dpo"] = Field(
        False,
        description="Run the model trained by the experiment's fine-tuning stage (true: the SFT "
        "arm; 'dpo': the DPO arm trained from it, [finetune.local.dpo]).",
    )
    device: str = Field("auto", min_length=1, description="'auto', 'cpu', 'cuda', 'cuda:1', ...")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="'auto': bfloat16 on a GPU that has it, float16 on others, else float32"
    )
    batch_size: int = Field(16, ge=1, le=4096, description="Prompts per generation batch.")
    max_new_tokens: int = Field(256, ge=1, le=32768, description="Cap on tokens per answer.")
    constrained: bool = Field(
        False,
        description="Restrict decoding to catalog titles (numbered output format only).",
    )
    chat_template: str | None = Field(
        None, description="Jinja chat template for a model that has none (or to replace it)."
    )

    @model_validator(mode="after")
    def _needs_model(self) -> TransformersConfig:
        if self.model is None and not self.fine_tuned:
            raise ValueError(
                "model is required: a hub id (e.g. 'Qwen/Qwen2.5-0.5B-Instruct'), a model "
                "folder, or an `llmrec finetune local --out` folder"
            )
        if self.constrained and self.template.output_format != "numbered":
            raise ValueError(
                "constrained=True writes the numbered format; use a template with "
                f"output_format='numbered' (got {self.template.output_format!r})"
            )
        return self


class TransformersRecommender(LanguageModelRecommender):
    """A local chat model asked for recommendations (see the module docstring).

    >>> rec = TransformersRecommender(model="runs/tiny-ft", constrained=True)
    >>> rec.fit(ratings, catalog).recommend_many(profiles, k=10)  # doctest: +SKIP
    """

    name: ClassVar[str] = "transformers"
    config_class: ClassVar[type[BaseModel]] = TransformersConfig
    config: TransformersConfig

    def __init__(self, config: TransformersConfig | None = None, /, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        # the config chooses the arm: stated on the instance (see recommenders.capabilities)
        chosen = self.config.fine_tuned
        self.fine_tuned_arm = "dpo" if chosen == "dpo" else "sft" if chosen is True else None

    def _model_name(self) -> str:
        if self.config.model is None:
            raise ConfigError(
                "the transformers backend has no model: pass model=... (a hub id or folder); "
                "fine_tuned=True gets it from the experiment's fine-tuning stage"
            )
        return self.config.model

    @property
    def model_id(self) -> str:
        return self.config.model or "(fine-tuned model, set by the experiment)"

    # -- the pipeline's hooks ---------------------------------------------------------------
    def make_transport(self) -> TransformersTransport:
        from llmrec.recommenders.llm.transports.transformers import (
            TransformersSettings,
            TransformersTransport,
        )

        cfg = self.config
        settings = TransformersSettings(
            model=self._model_name(),
            base_model=cfg.base_model,
            device=cfg.device,
            dtype=cfg.dtype,
            batch_size=cfg.batch_size,
            max_new_tokens=cfg.max_new_tokens,
            constrained=cfg.constrained,
            chat_template=cfg.chat_template,
        )
        return TransformersTransport(
            settings, catalog=getattr(self, "catalog_", None), template=cfg.template
        )

    def _fit(
        self, ratings: Ratings, catalog: Catalog | None = None, examples: object = None
    ) -> None:
        from llmrec._extras import require

        require("torch")  # a clear error naming pip install 'llmrec[train]', before any work
        require("transformers")
        self._model_name()
        super()._fit(ratings, catalog, examples)
        with self._lock:
            transport = self._transport
        if transport is not None:  # a refit with another catalog: constrain to that one
            transport.use_catalog(self.catalog_, self.config.template)  # type: ignore[attr-defined]

    def to_recommendation(
        self, profile: Sequence[int], k: int, key: str, answer: ChatAnswer
    ) -> Recommendation:
        rec = super().to_recommendation(profile, k, key, answer)
        rec.diagnostics["constrained"] = self.config.constrained
        return rec

    def credentials(self) -> Credentials:
        return Credentials((), True, "a local model needs no credentials")

    def token_cost(self, input_tokens: int, output_tokens: int) -> float | None:
        return 0.0  # runs on the user's own hardware; nothing is billed

    # -- capability protocol ----------------------------------------------------------------
    def estimate_cost(
        self, profiles: Sequence[Sequence[int]], k: int, catalog: Catalog
    ) -> CostEstimate:
        """One request per profile; tokens counted with the model's own tokenizer and chat
        template (exact input; output = ``k`` items of the median label length, plus the end
        token); USD 0 (local)."""
        from llmrec._extras import require

        transformers = require("transformers")
        name = self._model_name()
        tokenizer = transformers.AutoTokenizer.from_pretrained(name)
        if self.config.chat_template is not None:
            tokenizer.chat_template = self.config.chat_template
        template = self.template
        n_in = 0
        for profile in profiles:
            known = tuple(m for m in profile if m in catalog)
            text = tokenizer.apply_chat_template(
                template.messages(known, catalog, k=k), tokenize=False, add_generation_prompt=True
            )
            n_in += len(tokenizer(text, add_special_tokens=False)["input_ids"])
        labels = [
            f"{i % 9 + 1}. {m.label() if template.include_year else m.title}\n"
            for i, m in enumerate(catalog)
        ]
        per_item = (
            statistics.median(len(ids) for ids in tokenizer(labels)["input_ids"]) if labels else 0
        )
        n_out = len(profiles) * (round(per_item * k) + 1)
        n_out = min(n_out, len(profiles) * self.config.max_new_tokens)
        return CostEstimate(name, len(profiles), n_in, n_out, 0.0)
