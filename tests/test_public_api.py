"""The public namespace is small, sorted, importable and light."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import llmrec

PACKAGES = [
    "llmrec",
    "llmrec.data",
    "llmrec.truth",
    "llmrec.prompts",
    "llmrec.protocols",
    "llmrec.probes",
    "llmrec.finetune",
    "llmrec.openai_api",
    "llmrec.recommenders",
    "llmrec.metrics",
    "llmrec.experiment",
    "llmrec.testing",
    "llmrec.testing.openai_server",
    "llmrec.errors",
]


def test_top_level_exports_are_the_curated_list() -> None:
    assert llmrec.__all__ == [
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


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (the order ruff keeps ``__all__`` in)."""
    if name.isupper():
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_unique_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported)
    for attr in exported:
        value = getattr(module, attr)
        if inspect.isclass(value) or inspect.isfunction(value):
            # a class or function exported under its own name, defined inside llmrec
            assert getattr(value, "__name__", attr) == attr, f"{name}.{attr}"
            assert getattr(value, "__module__", "llmrec").startswith("llmrec"), f"{name}.{attr}"
        else:
            assert value is not None, f"{name}.{attr}"


def test_importing_llmrec_loads_no_heavy_optional_module() -> None:
    code = (
        "import sys, llmrec, llmrec.recommenders, llmrec.testing;"
        "print(sorted(m for m in ('openai', 'matplotlib', 'pandas', 'polars', 'tiktoken',"
        " 'httpx', 'pytest', 'scipy', 'rapidfuzz', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_error_derives_from_llmrec_error() -> None:
    from llmrec import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.LLMRecError)


def test_version_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    assert llmrec.__version__ == version("llmrec")


def test_the_peer_protocol_names_are_pinned() -> None:
    """Names issue 20 promises: the protocols, histories, aggregation and corrections."""
    from llmrec import metrics, prompts, protocols
    from llmrec.protocols import next_item, tallrec
    from llmrec.recommenders import rank_with_repeats

    assert protocols.__all__ == [
        "NextItemConfig",
        "NextItemSplit",
        "TallRecSet",
        "TallRecSplits",
        "next_item",
        "tallrec",
    ]
    assert callable(tallrec.build) and callable(next_item.build)
    assert {"History", "HistoryTemplate", "user_histories", "TALLREC_INSTRUCTION"} <= set(
        prompts.__all__
    )
    assert "adjust_pvalues" in metrics.__all__
    params = inspect.signature(rank_with_repeats).parameters
    assert params["aggregate"].default is None
    build = inspect.signature(tallrec.build).parameters
    assert [build[n].default for n in ("window", "last", "split", "like_above")] == [
        10,
        10_000,
        (0.8, 0.1, 0.1),
        3,
    ]


def test_the_likelihood_names_are_pinned() -> None:
    """Names issue 21 promises: scoring, sampling, chat files, AUC, the capability."""
    from llmrec import errors, metrics
    from llmrec.protocols import tallrec
    from llmrec.recommenders.capabilities import LikelihoodBackend
    from llmrec.recommenders.llm.pipeline import LanguageModelRecommender
    from llmrec.recommenders.transformers_backend import TransformersConfig

    assert {"auc", "compare_auc", "gauc", "evaluate_auc", "per_user_auc"} <= set(metrics.__all__)
    assert "CapabilityError" in errors.__all__
    assert tallrec.TallRecSplit is tallrec.TallRecSet
    assert callable(tallrec.score)
    assert inspect.signature(tallrec.TallRecSet.sample).parameters["seed"].default == 0
    assert callable(tallrec.TallRecSet.write_chat)
    for name in ("likelihood", "option_logprobs", "continuation_logprobs"):
        assert hasattr(LanguageModelRecommender, name)
    assert hasattr(LikelihoodBackend, "option_logprobs")
    fields = TransformersConfig.model_fields
    assert fields["ranking"].default == "generate"
    assert fields["length_normalised"].default is False


def test_the_sequential_backend_names_are_pinned() -> None:
    """Names issue 22 promises: the ``sasrec`` and ``gru4rec`` backends and their options."""
    from llmrec import recommenders

    assert {"sasrec", "gru4rec"} <= set(recommenders.available_recommenders())
    assert {"SASRecConfig", "SASRecRecommender", "GRU4RecConfig", "GRU4RecRecommender"} <= set(
        recommenders.__all__
    )
    shared = {"max_length", "epochs", "batch_size", "learning_rate", "loss", "patience"}
    shared |= {"device", "seed"}
    assert shared | {"hidden_size", "blocks", "heads", "dropout"} <= set(
        recommenders.SASRecConfig.model_fields
    )
    assert shared | {"hidden_size", "dropout"} <= set(recommenders.GRU4RecConfig.model_fields)
