"""Moved to :mod:`llmrec.experiment.stages.candidates`; this path keeps working."""

from llmrec.experiment.stages.candidates import RANKING_METRICS, CandidateRanking

__all__ = ["RANKING_METRICS", "CandidateRanking"]
