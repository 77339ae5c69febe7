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

from collections.abc import Callable
from typing import Any

from llmrec.recommenders._entry_points import (
    ENTRY_POINT_GROUP,
    instantiate,
    load_target,
    registered,
)
from llmrec.recommenders.base import Recommender

__all__ = [
    "ENTRY_POINT_GROUP",
    "available_recommenders",
    "get_recommender",
    "get_recommender_factory",
]


def available_recommenders() -> list[str]:
    """The registered recommender names, sorted."""
    return sorted(registered())


def get_recommender_factory(name: str) -> Callable[..., Any]:
    """The class or factory registered as ``name``, loaded but not called.

    Lets a caller read class-level capabilities (for example
    :func:`llmrec.recommenders.capabilities.fine_tuned_arm`) before building anything.
    Raises like :func:`get_recommender`.
    """
    return load_target(name)


def get_recommender(name: str, **config: Any) -> Recommender:
    """A new, unfitted recommender registered as ``name``, configured with ``config``.

    Raises :class:`~llmrec.errors.UnknownBackendError` listing the available names when ``name``
    is not registered, :class:`~llmrec.errors.BackendError` when its entry point cannot be
    loaded (for example a missing optional package) or is registered twice with different
    targets, and :class:`~llmrec.errors.ConfigError` for an invalid option.
    """
    instance: Recommender = instantiate(name, config, Recommender)
    return instance
