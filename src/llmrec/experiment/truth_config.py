"""Moved to :mod:`llmrec.experiment.config.truth`; this path keeps working."""

from llmrec.experiment.config.truth import (
    HOLDOUT_KINDS,
    LastNTruthSpec,
    NeighbourTruthSpec,
    ProbeTruthSpec,
    TimeSplitTruthSpec,
    TruthSpec,
    truth_kind,
)

__all__ = [
    "HOLDOUT_KINDS",
    "LastNTruthSpec",
    "NeighbourTruthSpec",
    "ProbeTruthSpec",
    "TimeSplitTruthSpec",
    "TruthSpec",
    "truth_kind",
]
