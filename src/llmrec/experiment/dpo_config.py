"""Moved to :mod:`llmrec.experiment.config.finetune`; this path keeps working."""

from llmrec.experiment.config.finetune import LocalDPO

__all__ = ["LocalDPO"]
