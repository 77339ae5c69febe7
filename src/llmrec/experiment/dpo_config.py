"""``[finetune.local.dpo]``: the settings of an experiment's DPO arm (see
:mod:`llmrec.experiment.local_dpo`), apart so the config imports none of the DPO stages."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from llmrec.finetune.local.config import LocalTrainConfig

__all__ = ["LocalDPO"]


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
