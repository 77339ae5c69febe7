"""Find recommenders by name through the ``llmrec.recommenders`` entry-point group.

The built-in backends register in llmrec's own ``pyproject.toml`` exactly as a third-party
package would in its own, so a plugin is a first-class backend::

    [project.entry-points."llmrec.recommenders"]
    my-model = "my_package.module:MyRecommender"

An entry point names a :class:`~llmrec.recommenders.base.Recommender` subclass or a factory
callable; :func:`get_recommender` calls it with the config keywords. Entry points are loaded only
when asked for, so listing the names never imports a backend (nor its SDK).
"""

from __future__ import annotations

import difflib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from llmrec.errors import BackendError, UnknownBackendError
from llmrec.recommenders.base import Recommender

__all__ = ["ENTRY_POINT_GROUP", "available_recommenders", "get_recommender"]

ENTRY_POINT_GROUP = "llmrec.recommenders"


def _entry_points() -> dict[str, list[EntryPoint]]:
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if not any(other.value == ep.value for other in found.get(ep.name, [])):
            found.setdefault(ep.name, []).append(ep)
    return found


def available_recommenders() -> list[str]:
    """The registered recommender names, sorted."""
    return sorted(_entry_points())


def get_recommender(name: str, **config: Any) -> Recommender:
    """A new, unfitted recommender registered as ``name``, configured with ``config``.

    Raises :class:`~llmrec.errors.UnknownBackendError` listing the available names when ``name``
    is not registered, :class:`~llmrec.errors.BackendError` when its entry point cannot be
    loaded (for example a missing optional package) or is registered twice with different
    targets, and :class:`~llmrec.errors.ConfigError` for an invalid option.
    """
    registered = _entry_points()
    if name not in registered:
        names = sorted(registered)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownBackendError(
            f"no recommender named {name!r}; available: {', '.join(names) or '(none)'}.{hint}"
        )
    candidates = registered[name]
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
    instance = target(**config)
    if not isinstance(instance, Recommender):
        raise BackendError(
            f"recommender {name!r} ({ep.value}) built a {type(instance).__name__}, "
            "not a llmrec Recommender"
        )
    return instance
