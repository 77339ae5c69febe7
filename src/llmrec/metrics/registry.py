"""Metric names → functions, so ``evaluate`` needs no ``if/elif`` chain and users can add metrics.

A name is ``FAMILY`` or ``FAMILY@K`` (case-insensitive), e.g. ``"precision@3"``, ``"p@3"``,
``"mrr"``, ``"mrr@10"``, ``"map@5"``, ``"ndcg@10"``, ``"hit@5"``, ``"f1@5"``, ``"recall@5"``.
Each family has one canonical name, used as the key of the results, plus aliases.

A registered metric has a single-user function ``fn(ranked, relevant, k) -> float`` and,
optionally, a vectorised ``batch(hit_matrix, k) -> ndarray``. ``evaluate`` uses the batch kernel
when there is one and otherwise calls ``fn`` once per user.

Every family ``F`` also resolves as ``F_tail`` (``"precision_tail@5"``, ``"p_tail@5"``,
``"mrr_tail"``): the same metric on the long tail (see :mod:`llmrec.metrics.tail`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from llmrec.errors import ConfigError
from llmrec.metrics._batch import FloatArray
from llmrec.metrics._common import check_k
from llmrec.metrics._hits import HitMatrix

__all__ = [
    "BatchMetricFn",
    "MetricFn",
    "MetricSpec",
    "available_metrics",
    "register_metric",
    "resolve_metric",
]

MetricFn: TypeAlias = Callable[[Sequence[Hashable], Collection[Hashable], Any], float]
BatchMetricFn: TypeAlias = Callable[[HitMatrix, Any], FloatArray]


@dataclass(frozen=True)
class _Family:
    name: str
    fn: MetricFn
    batch: BatchMetricFn | None
    needs_k: bool
    description: str


@dataclass(frozen=True)
class MetricSpec:
    """A resolved metric name: canonical ``name``, cutoff ``k`` (or ``None``) and its functions.

    ``family`` is the registered family (``"precision"`` for ``"precision_tail@5"`` too).
    """

    name: str
    family: str
    k: int | None
    fn: MetricFn
    batch: BatchMetricFn | None
    tail: bool = False
    """``True`` for ``FAMILY_tail`` names: scored on the relevant ids outside the head."""

    def single(self, ranked: Sequence[Hashable], relevant: Collection[Hashable]) -> float:
        """Score one user."""
        return float(self.fn(ranked, relevant, self.k))


_FAMILIES: dict[str, _Family] = {}
_ALIASES: dict[str, str] = {}
_TAIL = "_tail"
_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(?:@\s*(\d+))?\s*$")


def register_metric(
    name: str,
    fn: MetricFn,
    *,
    batch: BatchMetricFn | None = None,
    needs_k: bool = True,
    aliases: Iterable[str] = (),
    description: str = "",
    overwrite: bool = False,
) -> None:
    """Register a metric family under ``name`` (and ``aliases``), e.g. ``"myprec"``.

    ``fn(ranked, relevant, k)`` scores one user (``k`` is ``None`` when the name carries no
    ``@K``); ``batch(hit_matrix, k)``, when given, scores all users at once from the
    :class:`~llmrec.metrics._hits.HitMatrix`. ``needs_k=True`` makes ``"name"`` without ``@K``
    an error. Registering an existing name raises unless ``overwrite=True``.
    """
    if not isinstance(name, str) or not _NAME.match(name) or "@" in name:
        raise ConfigError(f"metric name must be a plain identifier without '@' (got {name!r})")
    if not callable(fn) or (batch is not None and not callable(batch)):
        raise ConfigError(f"metric {name!r}: fn and batch must be callables")
    keys = [name.lower(), *(a.lower() for a in aliases)]
    for key in keys:
        if not overwrite and (key in _FAMILIES or key in _ALIASES):
            raise ConfigError(f"metric name {key!r} is already registered; pass overwrite=True")
    canonical = keys[0]
    _FAMILIES[canonical] = _Family(canonical, fn, batch, needs_k, description)
    _ALIASES.pop(canonical, None)
    for alias in keys[1:]:
        _ALIASES[alias] = canonical


def available_metrics() -> dict[str, str]:
    """Canonical family names → one-line descriptions (aliases listed in the description)."""
    out = {}
    for name, fam in sorted(_FAMILIES.items()):
        aliases = sorted(a for a, c in _ALIASES.items() if c == name)
        suffix = f" (aliases: {', '.join(aliases)})" if aliases else ""
        at = "@K" if fam.needs_k else "[@K]"
        out[name] = f"{name}{at}: {fam.description}{suffix}"
    return out


def resolve_metric(name: str) -> MetricSpec:
    """Parse ``"family@k"`` into a :class:`MetricSpec`; unknown names raise ConfigError."""
    match = _NAME.match(name) if isinstance(name, str) else None
    if match is None:
        raise ConfigError(f"cannot parse metric name {name!r}; expected e.g. 'ndcg@10' or 'mrr'")
    family = match.group(1).lower()
    family = _ALIASES.get(family, family)
    tail = False
    if family not in _FAMILIES and family.endswith(_TAIL) and len(family) > len(_TAIL):
        base = family[: -len(_TAIL)]
        base = _ALIASES.get(base, base)
        if base in _FAMILIES:
            family, tail = base, True
    fam = _FAMILIES.get(family)
    if fam is None:
        known = ", ".join(sorted(_FAMILIES))
        raise ConfigError(
            f"unknown metric {name!r}; known families: {known} (each also as FAMILY_tail)"
        )
    k = None if match.group(2) is None else check_k(int(match.group(2)), f"k in {name!r}")
    label = f"{family}{_TAIL}" if tail else family
    if k is None and fam.needs_k:
        raise ConfigError(f"metric {name!r} needs a cutoff, e.g. '{label}@10'")
    canonical = label if k is None else f"{label}@{k}"
    return MetricSpec(canonical, family, k, fam.fn, fam.batch, tail)
