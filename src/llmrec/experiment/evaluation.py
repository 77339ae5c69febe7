"""Moved to :mod:`llmrec.experiment.stages.evaluation`; this path keeps working."""

from llmrec.experiment.stages.evaluation import evaluate_dataset

__all__ = ["evaluate_dataset"]
