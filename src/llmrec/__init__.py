"""llmrec: large language models as standalone recommenders.

The public API is small and curated (see ``__all__``); everything else lives in the
sub-packages ``data``, ``truth``, ``prompts``, ``finetune``, ``recommenders``, ``metrics``,
``experiment`` and ``testing``. Importing llmrec loads neither the OpenAI SDK nor matplotlib.
"""

from __future__ import annotations

__version__ = "0.1.0"

from llmrec.data import Catalog, Ratings, TitleResolver
from llmrec.errors import LLMRecError
from llmrec.experiment import ExperimentConfig
from llmrec.metrics import MetricReport, compare, evaluate
from llmrec.prompts import PromptTemplate
from llmrec.recommenders import (
    Recommendation,
    Recommender,
    available_recommenders,
    get_recommender,
)
from llmrec.truth import Example, NeighbourTruth, ProfileDataset, TruthConfig

__all__ = [
    "Catalog",
    "Example",
    "ExperimentConfig",
    "LLMRecError",
    "MetricReport",
    "NeighbourTruth",
    "ProfileDataset",
    "PromptTemplate",
    "Ratings",
    "Recommendation",
    "Recommender",
    "TitleResolver",
    "TruthConfig",
    "__version__",
    "available_recommenders",
    "compare",
    "evaluate",
    "get_recommender",
]
