"""Metrics over repeated presentation orders: spread over orders and the top-1 flip rate.

When the same candidate sets are ranked in ``R`` presentation orders (position-bias control,
:meth:`llmrec.truth.CandidateSets.orders`), :func:`summarize_repeats` evaluates each repeat and
reports, per metric, the mean over repeats of the repeat means and its interval,

    mean ± t_{(1+c)/2, R−1} · s / √R          (s: standard deviation of the R repeat means)

(Student's t over repeats; ``nan`` for one repeat, zero width when every repeat agrees; clipped
to ``[0, 1]``, the range of every metric and rate here, since with few repeats the t quantile is
large, 12.7 for two, and the raw interval would pass the range), for the
strict and, given ``valid``, the valid-only metrics (:mod:`llmrec.metrics.validity`), and two
measures of order sensitivity:

* **top-1 flip rate**: per user, the share of the ``R(R−1)/2`` pairs of repeats whose top-ranked
  movies differ (an empty answer's top is "none", which differs from any movie); mean over the
  truth's users. 0 for an order-invariant ranker; for a ranker that always picks the first
  candidate shown, the share of pairs whose first-shown candidates differ (``1 − 1/n`` for
  ``n`` candidates in random orders).
* **top-1 first-listed rate** (given ``orders``): among answers with a top-ranked movie, the
  share whose top is the candidate shown first. About ``1/n`` without position bias.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.errors import ConfigError
from llmrec.metrics.evaluate import DEFAULT_METRICS, evaluate
from llmrec.metrics.table import html_table, text_table
from llmrec.metrics.validity import evaluate_validity

__all__ = ["RepeatStat", "RepeatSummary", "summarize_repeats", "top1_flip_rate"]


_RANGE = (0.0, 1.0)
"""Every metric and rate summarised here lies in [0, 1]; intervals are clipped to it."""


@dataclass(frozen=True)
class RepeatStat:
    """One metric over repeats: the repeat means, their mean and its interval."""

    values: tuple[float, ...]
    mean: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "values": [clean(v) for v in self.values],
            "mean": clean(self.mean),
            "ci_low": clean(self.low),
            "ci_high": clean(self.high),
        }


def _stat(values: Sequence[float], confidence: float) -> RepeatStat:
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean()) if arr.size else float("nan")
    if arr.size < 2 or np.isnan(arr).any():
        return RepeatStat(tuple(arr.tolist()), mean, float("nan"), float("nan"))
    sd = float(arr.std(ddof=1))
    if sd == 0.0:
        return RepeatStat(tuple(arr.tolist()), mean, mean, mean)
    from scipy import stats

    half = float(stats.t.ppf((1.0 + confidence) / 2.0, arr.size - 1)) * sd / math.sqrt(arr.size)
    low, high = max(mean - half, _RANGE[0]), min(mean + half, _RANGE[1])
    return RepeatStat(tuple(arr.tolist()), mean, low, high)


@dataclass(frozen=True, repr=False)
class RepeatSummary:
    """What :func:`summarize_repeats` returns (see the module docstring for each measure)."""

    n_repeats: int
    n_users: int
    strict: dict[str, RepeatStat]
    valid_only: dict[str, RepeatStat] | None
    validity_rate: RepeatStat | None
    top1_flip_rate: float
    top1_first_listed: float | None
    confidence: float = 0.95
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        return list(self.strict)

    def __repr__(self) -> str:
        means = ", ".join(f"{n!r}: {s.mean:.4g}" for n, s in self.strict.items())
        return (
            f"RepeatSummary(n_repeats={self.n_repeats}, n_users={self.n_users}, "
            f"strict={{{means}}}, top1_flip_rate={self.top1_flip_rate:.4g})"
        )

    def _rows(self) -> list[list[str]]:
        def cells(s: RepeatStat) -> list[str]:
            ci = "" if math.isnan(s.low) else f"[{s.low:.4f}, {s.high:.4f}]"
            return [f"{s.mean:.4f}", ci]

        rows = []
        for name in self.metrics:
            row = [name, *cells(self.strict[name])]
            if self.valid_only is not None:
                row += cells(self.valid_only[name])
            rows.append(row)
        return rows

    def _header(self) -> list[str]:
        ci = f"{round(100 * self.confidence):d}% CI (repeats)"
        head = ["metric", "strict", ci]
        return head + (["valid-only", ci] if self.valid_only is not None else [])

    def _footer(self) -> str:
        text = (
            f"{self.n_repeats} presentation orders, {self.n_users:,} users; "
            f"top-1 flip rate {self.top1_flip_rate:.4f}"
        )
        if self.top1_first_listed is not None:
            text += f"; top-1 first-listed rate {self.top1_first_listed:.4f}"
        if self.validity_rate is not None:
            text += f"; validity rate {self.validity_rate.mean:.4f}"
        return text

    def __str__(self) -> str:
        return text_table(self._header(), self._rows()) + "\n" + self._footer()

    def _repr_html_(self) -> str:
        return html_table(self._header(), self._rows(), caption=self._footer())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``nan`` becomes ``None``)."""
        return {
            "n_repeats": self.n_repeats,
            "n_users": self.n_users,
            "confidence": self.confidence,
            "strict": {n: s.to_dict() for n, s in self.strict.items()},
            "valid_only": None
            if self.valid_only is None
            else {n: s.to_dict() for n, s in self.valid_only.items()},
            "validity_rate": None if self.validity_rate is None else self.validity_rate.to_dict(),
            "top1_flip_rate": None if math.isnan(self.top1_flip_rate) else self.top1_flip_rate,
            "top1_first_listed": None
            if self.top1_first_listed is None or math.isnan(self.top1_first_listed)
            else self.top1_first_listed,
            "options": dict(self.options),
        }


def _top(ranking: Mapping[Hashable, Sequence[Hashable]], user: Hashable) -> Hashable | None:
    ranked = ranking.get(user)
    if ranked is None or len(ranked) == 0:
        return None
    top: Hashable = ranked[0]
    return top


def top1_flip_rate(
    rankings: Sequence[Mapping[Hashable, Sequence[Hashable]]], users: Sequence[Hashable]
) -> float:
    """Mean over ``users`` of the share of repeat pairs whose top-ranked movies differ."""
    pairs = list(itertools.combinations(range(len(rankings)), 2))
    if not pairs or not users:
        return float("nan")
    total = 0.0
    for u in users:
        tops = [_top(r, u) for r in rankings]
        total += sum(tops[a] != tops[b] for a, b in pairs) / len(pairs)
    return total / len(users)


def summarize_repeats(
    rankings: Sequence[Mapping[Hashable, Sequence[Hashable]]],
    truth: Mapping[Hashable, Collection[Hashable]],
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    valid: Sequence[Any] | None = None,
    orders: Sequence[Mapping[Hashable, Sequence[Hashable]]] | None = None,
    confidence: float = 0.95,
    empty_truth: str = "skip",
) -> RepeatSummary:
    """Evaluate each repeat's rankings (user -> ranked ids) against one ``truth`` and summarise
    over repeats (module docstring). ``valid[r]`` (valid user ids of repeat ``r``, see
    :func:`~llmrec.metrics.evaluate_validity`) adds the valid-only block and the validity rate;
    ``orders[r]`` (user -> candidates as shown) adds the top-1 first-listed rate."""
    if isinstance(rankings, Mapping) or not rankings:
        raise ConfigError("rankings must be a non-empty sequence of mappings, one per repeat")
    if not isinstance(truth, Mapping):
        raise ConfigError("truth must be a mapping user -> relevant ids")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be strictly between 0 and 1 (got {confidence!r})")
    n = len(rankings)
    for name, given in (("valid", valid), ("orders", orders)):
        if given is not None and len(given) != n:
            raise ConfigError(f"{name} must have one entry per repeat ({n}), got {len(given)}")
    if isinstance(metrics, str):
        metrics = [metrics]
    options: dict[str, Any] = {"n_bootstrap": 0, "empty_truth": empty_truth}
    strict: list[dict[str, float]] = []
    valid_only: list[dict[str, float]] = []
    rates: list[float] = []
    for r, ranking in enumerate(rankings):
        if valid is None:
            strict.append(evaluate(ranking, truth, metrics, **options).means)
        else:
            report = evaluate_validity(ranking, truth, valid[r], metrics, **options)
            strict.append(report.strict.means)
            valid_only.append(report.valid_only.means)
            rates.append(report.validity_rate)
    names = list(strict[0])
    users = list(truth)
    first_listed: float | None = None
    if orders is not None:
        hits = seen = 0
        for ranking, order in zip(rankings, orders, strict=True):
            for u in users:
                top = _top(ranking, u)
                shown = order.get(u)
                if top is None or not shown:
                    continue
                seen += 1
                hits += top == shown[0]
        first_listed = hits / seen if seen else float("nan")
    return RepeatSummary(
        n_repeats=n,
        n_users=len(users),
        strict={m: _stat([s[m] for s in strict], confidence) for m in names},
        valid_only=None
        if valid is None
        else {m: _stat([s[m] for s in valid_only], confidence) for m in names},
        validity_rate=None if valid is None else _stat(rates, confidence),
        top1_flip_rate=top1_flip_rate(rankings, users),
        top1_first_listed=first_listed,
        confidence=confidence,
        options={"metrics": list(metrics), "empty_truth": empty_truth},
    )
