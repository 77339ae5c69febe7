"""The study's ground truth: neighbour-based gold recommendations (profileData50/60)."""

from llmrec.truth.dataset import Example, ProfileDataset

__all__ = ["Example", "ProfileDataset"]
