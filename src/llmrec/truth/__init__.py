"""The study's ground truth: neighbour-based gold recommendations (profileData50/60)."""

from llmrec.truth._stats import TruthStats
from llmrec.truth.builder import NeighbourTruth
from llmrec.truth.config import TruthConfig
from llmrec.truth.dataset import Example, ProfileDataset

__all__ = ["Example", "NeighbourTruth", "ProfileDataset", "TruthConfig", "TruthStats"]
