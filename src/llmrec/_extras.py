"""Optional dependencies, imported only on use: the ``[train]`` extra (torch, transformers, peft,
trl, accelerate) and the checks around it.

This is the bottom layer (beside ``errors``), so every package that needs an optional package
(``local_models``, ``recommenders``, ``finetune``, ``testing``) asks here instead of asking a
package above it; scikit-learn keeps ``utils/_optional_dependencies.py`` for the same reason.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import warnings
from collections.abc import Iterator
from types import ModuleType

from llmrec.errors import ConfigError

__all__ = ["TRAIN_PACKAGES", "MissingExtraError", "library_versions", "quiet_peft", "require"]

TRAIN_PACKAGES = ("torch", "transformers", "peft", "trl", "accelerate", "safetensors", "tokenizers")


class MissingExtraError(ConfigError, ImportError):
    """A package of the ``[train]`` extra is not installed."""


def require(name: str) -> ModuleType:
    """Import ``name`` (a ``[train]`` package); a :class:`MissingExtraError` says how to get it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtraError(
            f"local models need the optional package {name!r}, which is not installed "
            f"({exc}); install the extra with: pip install 'llmrec[train]' "
            "(on a CPU-only machine install the CPU build of torch first)"
        ) from None


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """PEFT 0.21 (and TRL 1.x's DPO trainer) read transformers 5's deprecated
    ``is_gradient_checkpointing``; hide only that FutureWarning (not ours to fix, and tests turn
    warnings into errors)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        yield


def library_versions() -> dict[str, str]:
    """Installed versions of the ``[train]`` packages (and llmrec), for manifests."""
    out: dict[str, str] = {}
    for name in ("llmrec", *TRAIN_PACKAGES, "datasets", "bitsandbytes"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out
