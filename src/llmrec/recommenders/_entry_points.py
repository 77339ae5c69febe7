"""Entry points of the ``llmrec.recommenders`` group: find, load and call them.

Kept apart from :mod:`llmrec.recommenders.registry` so that both the registry and
``Recommender.from_config`` use it without importing each other.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from llmrec.errors import BackendError, UnknownBackendError

__all__ = ["ENTRY_POINT_GROUP", "instantiate", "load_target", "registered"]

ENTRY_POINT_GROUP = "llmrec.recommenders"


def registered() -> dict[str, list[EntryPoint]]:
    """Entry points by name (the same target registered twice counts once)."""
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if not any(other.value == ep.value for other in found.get(ep.name, [])):
            found.setdefault(ep.name, []).append(ep)
    return found


def load_target(name: str) -> Callable[..., Any]:
    """The class or factory registered as ``name`` (loaded, not called)."""
    found = registered()
    if name not in found:
        names = sorted(found)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownBackendError(
            f"no recommender named {name!r}; available: {', '.join(names) or '(none)'}.{hint}"
        )
    candidates = found[name]
    if len(candidates) > 1:
        targets = ", ".join(ep.value for ep in candidates)
        raise BackendError(
            f"recommender name {name!r} is registered more than once ({targets}); "
            "uninstall one of the packages providing it"
        )
    ep = candidates[0]
    try:
        target = ep.load()
    except ImportError as exc:
        raise BackendError(
            f"recommender {name!r} ({ep.value}) cannot be loaded: {exc}. "
            "Install the package it needs."
        ) from exc
    if not callable(target):
        raise BackendError(f"recommender {name!r} points at {ep.value}, which is not callable")
    return target  # type: ignore[no-any-return]


def instantiate(name: str, config: dict[str, Any], expected: type) -> Any:
    """Call the target registered as ``name`` with ``config``; check it built an ``expected``
    (an instance of that class, which the caller may then rely on)."""
    target = load_target(name)
    instance = target(**config)
    if not isinstance(instance, expected):
        value = registered()[name][0].value
        raise BackendError(
            f"recommender {name!r} ({value}) built a {type(instance).__name__}, "
            "not a llmrec Recommender"
        )
    return instance
