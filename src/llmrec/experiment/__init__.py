"""Reproduce the study end to end: config → artifacts, tables, figure and significance tests."""

from llmrec.experiment.config import (
    BackendSpec,
    ExperimentConfig,
    FineTuneStage,
    MovieLensSource,
    NetflixSource,
    SplitConfig,
    SyntheticSource,
)
from llmrec.experiment.costs import CostLine
from llmrec.experiment.results import Results
from llmrec.experiment.run import ExperimentResult, run
from llmrec.experiment.truth_config import (
    LastNTruthSpec,
    NeighbourTruthSpec,
    ProbeTruthSpec,
    TimeSplitTruthSpec,
)

__all__ = [
    "BackendSpec",
    "CostLine",
    "ExperimentConfig",
    "ExperimentResult",
    "FineTuneStage",
    "LastNTruthSpec",
    "MovieLensSource",
    "NeighbourTruthSpec",
    "NetflixSource",
    "ProbeTruthSpec",
    "Results",
    "SplitConfig",
    "SyntheticSource",
    "TimeSplitTruthSpec",
    "run",
]
