"""Moved: the config model to :mod:`llmrec.experiment.config.finetune`, the arm to
:mod:`llmrec.experiment.arms.local_dpo`; the public names keep working from here."""

from llmrec.experiment.arms.local_dpo import LocalDPOArm
from llmrec.experiment.config.finetune import LocalDPO

__all__ = ["LocalDPO", "LocalDPOArm"]
