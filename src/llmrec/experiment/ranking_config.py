"""Moved to :mod:`llmrec.experiment.config.ranking`; this path keeps working."""

from llmrec.experiment.config.ranking import RANKING_FIELDS, RankingFields

__all__ = ["RANKING_FIELDS", "RankingFields"]
