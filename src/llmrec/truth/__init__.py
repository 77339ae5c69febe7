"""Ground truths: the study's neighbour-based gold (profileData50/60), holdout truths from what
users actually rated (the Netflix probe set, per-user last-N, a global time split), leakage
checks, and candidate sets for ranking protocols."""

from llmrec.truth._stats import TruthStats
from llmrec.truth.builder import NeighbourTruth
from llmrec.truth.candidates import CandidateSampler, CandidateSets
from llmrec.truth.config import TruthConfig
from llmrec.truth.dataset import Example, ProfileDataset
from llmrec.truth.holdout import HoldoutConfig, HoldoutTruth
from llmrec.truth.last_n import LastNConfig, LastNTruth
from llmrec.truth.leakage import check_fitting_set, check_holdout
from llmrec.truth.probe import ProbeConfig, ProbeTruth
from llmrec.truth.time_split import TimeSplitConfig, TimeSplitTruth

__all__ = [
    "CandidateSampler",
    "CandidateSets",
    "Example",
    "HoldoutConfig",
    "HoldoutTruth",
    "LastNConfig",
    "LastNTruth",
    "NeighbourTruth",
    "ProbeConfig",
    "ProbeTruth",
    "ProfileDataset",
    "TimeSplitConfig",
    "TimeSplitTruth",
    "TruthConfig",
    "TruthStats",
    "check_fitting_set",
    "check_holdout",
]
