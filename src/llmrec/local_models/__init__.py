"""Local language models: load (hub id, folder, or LoRA adapter on its base) and generate.

``LocalModel(model, device="auto", dtype="auto", batch_size=16)`` renders chat messages with the
model's chat template and generates greedily in left-padded batches; ``generate(...,
constrained_to=CatalogConstraint(...))`` keeps every answer inside a catalog. Needs the
``[train]`` extra; importing this package does not import torch (names load on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmrec.local_models.constrained import CatalogConstraint, CatalogLogitsProcessor
    from llmrec.local_models.engine import GenerationResult, LocalModel
    from llmrec.local_models.fingerprint import folder_sha256
    from llmrec.local_models.load import load_model, merge_adapter

__all__ = [
    "CatalogConstraint",
    "CatalogLogitsProcessor",
    "GenerationResult",
    "LocalModel",
    "folder_sha256",
    "load_model",
    "merge_adapter",
]

_LAZY = {
    "CatalogConstraint": "llmrec.local_models.constrained",
    "CatalogLogitsProcessor": "llmrec.local_models.constrained",
    "GenerationResult": "llmrec.local_models.engine",
    "LocalModel": "llmrec.local_models.engine",
    "folder_sha256": "llmrec.local_models.fingerprint",
    "load_model": "llmrec.local_models.load",
    "merge_adapter": "llmrec.local_models.load",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmrec.local_models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
