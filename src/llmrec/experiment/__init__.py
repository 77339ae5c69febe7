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

__all__ = [
    "BackendSpec",
    "CostLine",
    "ExperimentConfig",
    "ExperimentResult",
    "FineTuneStage",
    "MovieLensSource",
    "NetflixSource",
    "Results",
    "SplitConfig",
    "SyntheticSource",
    "run",
]
