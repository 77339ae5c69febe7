"""Moved: the config model to :mod:`llmrec.experiment.config.finetune`, the arm to
:mod:`llmrec.experiment.arms.local_sft`; the public names keep working from here."""

from llmrec.experiment.arms.local_sft import LocalSFTArm
from llmrec.experiment.config.finetune import LocalFineTune
from llmrec.experiment.plan import gpu_hours

__all__ = ["LocalFineTune", "LocalSFTArm", "gpu_hours"]
