"""Local fine-tuning of open-weights models (LoRA, QLoRA, full SFT) with TRL: the loop φ on
any open model, on a GPU or, for a small model, a CPU.

``train_local(TRAIN_JSONL, MODEL, OUT, config=LocalTrainConfig(...))`` trains, resumes after an
interruption and writes a manifest; ``plan_local`` is the dry run; ``train_local_dataset`` takes
a ``ProfileDataset`` + ``PromptTemplate`` + ``Catalog``. ``method="dpo"`` (or
``train_local_dpo``) tunes an SFT model on a preference file with TRL's DPO, the SFT model as
reference; ``method="grpo"`` (or ``train_local_grpo``) tunes it with GRPO from the chat file's
prompts, rewarded by a ranking metric (``RankingReward``). Needs the ``[train]`` extra; importing
this package does not import torch (names load on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from llmrec.finetune.local._deps import MissingExtraError
from llmrec.finetune.local.config import DEFAULT_LEARNING_RATES, LocalTrainConfig
from llmrec.finetune.local.manifest import MANIFEST_NAME, LocalTrainManifest

if TYPE_CHECKING:
    from llmrec.finetune.local.dataset import train_local_dataset
    from llmrec.finetune.local.dpo import plan_local_dpo, train_local_dpo
    from llmrec.finetune.local.estimate import DryRun
    from llmrec.finetune.local.grpo import plan_local_grpo, train_local_grpo
    from llmrec.finetune.local.reward import RankingReward, RewardParts
    from llmrec.finetune.local.train import OutOfMemoryError, plan_local, train_local

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "MANIFEST_NAME",
    "DryRun",
    "LocalTrainConfig",
    "LocalTrainManifest",
    "MissingExtraError",
    "OutOfMemoryError",
    "RankingReward",
    "RewardParts",
    "plan_local",
    "plan_local_dpo",
    "plan_local_grpo",
    "train_local",
    "train_local_dataset",
    "train_local_dpo",
    "train_local_grpo",
]

_LAZY = {
    "DryRun": "llmrec.finetune.local.estimate",
    "OutOfMemoryError": "llmrec.finetune.local.train",
    "plan_local": "llmrec.finetune.local.train",
    "train_local": "llmrec.finetune.local.train",
    "train_local_dataset": "llmrec.finetune.local.dataset",
    "plan_local_dpo": "llmrec.finetune.local.dpo",
    "train_local_dpo": "llmrec.finetune.local.dpo",
    "plan_local_grpo": "llmrec.finetune.local.grpo",
    "train_local_grpo": "llmrec.finetune.local.grpo",
    "RankingReward": "llmrec.finetune.local.reward",
    "RewardParts": "llmrec.finetune.local.reward",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmrec.finetune.local' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
