"""llmrec: large language models as standalone recommenders.

The public API is small and curated (see ``__all__``); everything else lives in the
sub-packages ``data``, ``truth``, ``prompts``, ``finetune``, ``recommenders``, ``metrics``,
``experiment`` and ``testing``. Importing llmrec loads neither the OpenAI SDK nor matplotlib;
the names below are imported on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Names are imported on first use (PEP 562), so ``import llmrec.metrics`` or
# ``import llmrec.testing.strategies`` does not load the data, truth or experiment stacks.
_LAZY = {
    "Catalog": "llmrec.data",
    "Example": "llmrec.truth",
    "ExperimentConfig": "llmrec.experiment",
    "LLMRecError": "llmrec.errors",
    "MetricReport": "llmrec.metrics",
    "NeighbourTruth": "llmrec.truth",
    "ProfileDataset": "llmrec.truth",
    "PromptTemplate": "llmrec.prompts",
    "Ratings": "llmrec.data",
    "Recommendation": "llmrec.recommenders",
    "Recommender": "llmrec.recommenders",
    "TitleResolver": "llmrec.data",
    "TruthConfig": "llmrec.truth",
    "available_recommenders": "llmrec.recommenders",
    "compare": "llmrec.metrics",
    "evaluate": "llmrec.metrics",
    "get_recommender": "llmrec.recommenders",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmrec' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
