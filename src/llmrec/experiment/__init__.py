"""Reproduce the study end to end: config → artifacts, tables, figure and significance tests.

``CostLine`` is still importable from here: it is :class:`PlanLine`, the one plan-line type.
"""

from llmrec.experiment.config import (
    BackendSpec,
    ExperimentConfig,
    FineTuneStage,
    LastNTruthSpec,
    MovieLensSource,
    NeighbourTruthSpec,
    NetflixSource,
    ProbeTruthSpec,
    SplitConfig,
    SyntheticSource,
    TimeSplitTruthSpec,
)
from llmrec.experiment.costs import CostLine as CostLine
from llmrec.experiment.plan import PlanLine
from llmrec.experiment.results import Results
from llmrec.experiment.run import ExperimentResult, run

__all__ = [
    "BackendSpec",
    "ExperimentConfig",
    "ExperimentResult",
    "FineTuneStage",
    "LastNTruthSpec",
    "MovieLensSource",
    "NeighbourTruthSpec",
    "NetflixSource",
    "PlanLine",
    "ProbeTruthSpec",
    "Results",
    "SplitConfig",
    "SyntheticSource",
    "TimeSplitTruthSpec",
    "run",
]
