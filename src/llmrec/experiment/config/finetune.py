"""``[finetune]``: the fine-tuning arms an experiment trains, as pure settings.

* ``provider = "openai"`` (default): a hosted supervised job (the study's SFT arm); with
  ``[finetune.dpo]`` a hosted DPO job too (:class:`HostedDPO`).
* ``provider = "local"``: ``[finetune.local]`` trains on this machine (:class:`LocalFineTune`);
  with ``[finetune.local.dpo]`` a DPO arm preference-tunes that SFT arm (:class:`LocalDPO`), and
  with ``[finetune.local.grpo]`` a GRPO arm trains it with a ranking-metric reward
  (:class:`LocalGRPO`).

What each arm does with these settings is in :mod:`llmrec.experiment.arms`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from llmrec.experiment.config._base import ConfigModel
from llmrec.finetune.local.config import LocalTrainConfig, drop_unused_grpo
from llmrec.openai_api.models import DEFAULT_MODEL

__all__ = ["FineTuneStage", "HostedDPO", "LocalDPO", "LocalFineTune", "LocalGRPO"]


class LocalDPO(LocalTrainConfig):
    """``[finetune.local.dpo]``: the DPO arm's rejected-list builder and training settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["dpo"] = Field(
        "dpo", description="Always 'dpo' (the SFT arm's method is [finetune.local] method)."
    )
    rejected: Literal["popularity", "random"] = Field(
        "popularity",
        description="Builder of the rejected lists: 'popularity' (the most-rated movies the user "
        "has not rated) or 'random' (unrated movies drawn with `seed`).",
    )

    def train_config(self) -> LocalTrainConfig:
        """The :class:`LocalTrainConfig` part."""
        return LocalTrainConfig(**self.model_dump(exclude={"rejected"}))


class LocalGRPO(LocalTrainConfig):
    """``[finetune.local.grpo]``: the GRPO arm's settings (reward, num_generations, beta,
    temperature, max_new_tokens, penalties, and every other training field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["grpo"] = Field(
        "grpo", description="Always 'grpo' (the SFT arm's method is [finetune.local] method)."
    )
    beta: float = Field(
        0.0, ge=0, le=100, description="KL coefficient to the SFT model (0: no reference loaded)."
    )

    def train_config(self) -> LocalTrainConfig:
        """The :class:`LocalTrainConfig` part."""
        return LocalTrainConfig(**self.model_dump())


class LocalFineTune(LocalTrainConfig):
    """``[finetune.local]``: the base model, the assumed GPU throughput, and the training
    settings (every :class:`~llmrec.finetune.local.LocalTrainConfig` field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, description="Base model: hub id or model folder.")
    assumed_tflops: float = Field(
        100.0,
        gt=0,
        description="Sustained training throughput (TFLOP/s) used to turn FLOPs into GPU-hours.",
    )
    dpo: LocalDPO | None = Field(
        None,
        description="[finetune.local.dpo]: a DPO arm preference-tuned from this (SFT) arm; see "
        "llmrec.experiment.arms.local_dpo.",
    )
    grpo: LocalGRPO | None = Field(
        None,
        description="[finetune.local.grpo]: a GRPO arm trained from this (SFT) arm with a "
        "ranking-metric reward; see llmrec.experiment.arms.local_grpo.",
    )

    def train_config(self) -> LocalTrainConfig:
        """The :class:`LocalTrainConfig` part."""
        return LocalTrainConfig(
            **self.model_dump(exclude={"model", "assumed_tflops", "dpo", "grpo"})
        )

    @model_serializer(mode="wrap")
    def _no_grpo_trace(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Without ``[finetune.local.grpo]`` the dump is that of configs written before it (nor
        the GRPO settings at their defaults, as every ``LocalTrainConfig``)."""
        data = drop_unused_grpo(self, handler(self))
        if isinstance(data, dict) and self.grpo is None:
            data.pop("grpo", None)
        return data


class HostedDPO(ConfigModel):
    """``[finetune.dpo]``: a hosted DPO job on preference pairs from the train split.

    The pairs are those of the local DPO arm (chosen: the gold list; rejected: ``rejected``
    lists); the job starts from ``model``, by default the hosted SFT arm's fine-tuned model
    (supervised fine-tuning, then DPO, as OpenAI's guide suggests). Backends run its model with
    ``arm = "dpo"`` in their ``[[backends]]`` table.
    """

    model: str | None = Field(
        None,
        min_length=1,
        description="Model the DPO job starts from; default: the SFT arm's fine-tuned model.",
    )
    beta: float | None = Field(None, gt=0, le=2, description="DPO beta (None: OpenAI's 'auto').")
    rejected: Literal["popularity", "random"] = Field(
        "popularity", description="Builder of the rejected lists (see [finetune.local.dpo])."
    )
    seed: int = Field(0, ge=0, description="Seed of the 'random' rejected lists and of the job.")
    n_epochs: int = Field(2, ge=1, le=50)
    batch_size: int = Field(32, ge=1, le=256)
    learning_rate_multiplier: float = Field(1.0, gt=0)
    suffix: str | None = "llmrec-dpo"
    allow_unlisted_model: bool = Field(
        False,
        description="Start a DPO job on a model OpenAI does not document for DPO (your provider "
        "accepts it).",
    )
    fine_tuned_models: dict[str, str] = Field(
        default_factory=dict,
        description="Already DPO-tuned model ids per data set name (skips the job).",
    )


class FineTuneStage(ConfigModel):
    """The fine-tuning arms; off unless asked for, and never above the budget."""

    enabled: bool = Field(False, description="Start (or resume) the fine-tuning arms.")
    provider: Literal["openai", "local"] = Field(
        "openai", description="'openai': a hosted job; 'local': train on this machine."
    )
    local: LocalFineTune | None = Field(
        None, description="provider 'local': the base model and LocalTrainConfig settings."
    )
    dpo: HostedDPO | None = Field(
        None, description="provider 'openai': a hosted DPO arm beside the SFT arm."
    )
    model: str = DEFAULT_MODEL
    n_epochs: int = Field(2, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate_multiplier: float = Field(1.0, gt=0)
    suffix: str | None = "llmrec"
    seed: int | None = 0
    poll_interval: float = Field(10.0, gt=0, description="Seconds between job status checks.")
    fine_tuned_models: dict[str, str] = Field(
        default_factory=dict,
        description="Already fine-tuned model ids per data set name (skips the job).",
    )

    @model_serializer(mode="wrap")
    def _no_hosted_dpo_no_trace(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Without ``[finetune.dpo]`` the dump is that of configs written before it existed."""
        data = handler(self)
        if isinstance(data, dict) and self.dpo is None:
            data.pop("dpo", None)
        return data
