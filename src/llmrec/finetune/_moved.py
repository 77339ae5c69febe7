"""Deprecated module locations: a module whose names moved forwards each of them to the new
module, with a :class:`DeprecationWarning` that names the new place."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["forward"]


def forward(old: str, new: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the module ``old``: every name in ``new.__all__`` is
    read from ``new``, with a warning to import it from there."""

    def names() -> list[str]:
        return sorted(importlib.import_module(new).__all__)

    def attribute(name: str) -> Any:
        if name not in names():
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} moved to {new}.{name}; import it from {new}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new), name)

    return attribute, names
