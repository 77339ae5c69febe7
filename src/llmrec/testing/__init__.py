"""Test helpers that ship with llmrec, for its own tests and for users' and plugin authors'.

``LocalOpenAIServer`` is an OpenAI-compatible HTTP server on loopback: point the official
``openai`` SDK at ``server.base_url`` to test chat, batch and fine-tuning code without a network,
a key or a bill. ``RecommenderContract`` and ``MetricContract`` are pytest base classes for
backends and for other projects' metric functions; ``llmrec.testing.strategies`` holds
hypothesis strategies (ranked lists, relevant sets, batches, small ratings). Names are
imported on first use, so ``python -m llmrec.testing.server`` runs cleanly and
``import llmrec.testing.strategies`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmrec.testing.contract import RecommenderContract
    from llmrec.testing.metric_contract import MetricContract
    from llmrec.testing.openai_server import LocalOpenAIServer, RecordedRequest

__all__ = ["LocalOpenAIServer", "MetricContract", "RecommenderContract", "RecordedRequest"]

_LAZY = {
    "MetricContract": "llmrec.testing.metric_contract",
    "RecommenderContract": "llmrec.testing.contract",
    "LocalOpenAIServer": "llmrec.testing.openai_server",
    "RecordedRequest": "llmrec.testing.openai_server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmrec.testing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
