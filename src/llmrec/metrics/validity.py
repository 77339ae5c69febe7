"""Validity-aware evaluation: strict and valid-only metrics side by side, never mixed.

A language model's answer can be unusable: it failed, it could not be parsed, or it named no
movie of the catalog (of the candidates, when ranking). Two honest summaries exist, and they
answer different questions, so :func:`evaluate_validity` always reports both:

* **strict**: every user of the truth counts; an invalid or missing answer scores as an empty
  list (a miss on every metric). This is what a user of the system would get.
* **valid-only**: only the users whose answer is valid; what the model achieves when it does
  answer (the number LLaRA reports as "valid" HR@1).

beside the **validity rate** ``n_valid / n_total`` (``n_total`` = users of the truth). A valid
answer is the caller's call (``valid`` below); for :class:`~llmrec.recommenders.Recommendation`
objects ``rec.valid`` is the library's definition (docs/metrics.md, "Validity"). A user marked
valid but without a recommendation list counts as invalid.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError
from llmrec.metrics.evaluate import DEFAULT_METRICS, evaluate
from llmrec.metrics.report import MetricReport
from llmrec.metrics.table import html_table, text_table

__all__ = ["ValidityReport", "evaluate_validity", "validity_mask"]


@dataclass(frozen=True, repr=False)
class ValidityReport:
    """Strict and valid-only :class:`MetricReport` of one run, and its validity counts.

    ``strict`` scores every truth user (invalid answers as empty lists); ``valid_only`` the
    ``n_valid`` users with a valid answer. ``invalid_users`` lists the others, in truth order.
    """

    strict: MetricReport
    valid_only: MetricReport
    n_valid: int
    n_total: int
    invalid_users: list[Hashable]

    @property
    def validity_rate(self) -> float:
        """``n_valid / n_total`` (``nan`` for an empty truth)."""
        return self.n_valid / self.n_total if self.n_total else float("nan")

    @property
    def metrics(self) -> list[str]:
        return self.strict.metrics

    def __repr__(self) -> str:
        return (
            f"ValidityReport(n_valid={self.n_valid}, n_total={self.n_total}, "
            f"strict={self.strict!r}, valid_only={self.valid_only!r})"
        )

    def _rows(self) -> list[list[str]]:
        rows = []
        for name in self.metrics:
            row = [name]
            for report in (self.strict, self.valid_only):
                lo, hi = report.ci[name]
                mean = report.means[name]
                row.append("" if np.isnan(mean) else f"{mean:.4f}")
                row.append("" if np.isnan(lo) else f"[{lo:.4f}, {hi:.4f}]")
            rows.append(row)
        return rows

    def _header(self) -> list[str]:
        ci = f"{round(100 * self.strict.confidence):d}% CI"
        return ["metric", "strict", ci, "valid-only", ci]

    def _footer(self) -> str:
        return (
            f"valid answers: {self.n_valid:,} of {self.n_total:,} "
            f"(validity rate {self.validity_rate:.4f}); strict scores invalid or missing answers "
            "as misses over all users, valid-only scores the valid answers alone"
        )

    def __str__(self) -> str:
        return text_table(self._header(), self._rows()) + "\n" + self._footer()

    def _repr_html_(self) -> str:
        return html_table(self._header(), self._rows(), caption=self._footer())

    def to_dict(self, *, per_user: bool = False) -> dict[str, Any]:
        """``{"validity": {...}, "strict": {...}, "valid_only": {...}}``, JSON-ready."""
        rate = self.validity_rate
        return {
            "validity": {
                "n_valid": self.n_valid,
                "n_total": self.n_total,
                "validity_rate": None if np.isnan(rate) else rate,
                "invalid_users": [
                    u.item() if isinstance(u, np.generic) else u for u in self.invalid_users
                ],
            },
            "strict": self.strict.to_dict(per_user=per_user),
            "valid_only": self.valid_only.to_dict(per_user=per_user),
        }


def validity_mask(recommendations: Any, truth: Any, valid: Any) -> npt.NDArray[np.bool_]:
    """Per truth user (in truth order), whether the answer is valid and present.

    With mappings, ``valid`` is a collection of valid user ids or a mapping user -> bool; with
    aligned sequences, a sequence of booleans as long as the truth.
    """
    if isinstance(truth, Mapping) != isinstance(recommendations, Mapping):
        raise ConfigError(
            "recommendations and truth must both be mappings (user -> items) or both be aligned "
            f"sequences (got {type(recommendations).__name__} and {type(truth).__name__})"
        )
    if isinstance(truth, Mapping):
        users = list(truth)
        if isinstance(valid, Mapping):
            flags = [bool(valid.get(u, False)) for u in users]
        elif isinstance(valid, Collection) and not isinstance(valid, str | bytes):
            chosen = valid if isinstance(valid, set | frozenset) else set(valid)
            flags = [u in chosen for u in users]
        else:
            raise ConfigError(
                "valid must be a collection of valid user ids or a mapping user -> bool, got "
                f"{type(valid).__name__}"
            )
        present = [recommendations.get(u) is not None for u in users]
        both: npt.NDArray[np.bool_] = np.asarray(flags, dtype=bool) & np.asarray(present, bool)
        return both
    if isinstance(valid, str | bytes | Mapping) or not isinstance(valid, Sequence | np.ndarray):
        raise ConfigError(
            "with aligned sequences, valid must be a sequence of booleans as long as the truth"
        )
    mask = np.asarray(valid)
    if len(recommendations) != len(truth):
        raise ConfigError(
            f"aligned recommendations and truth differ in length ({len(recommendations)} != "
            f"{len(truth)})"
        )
    if mask.shape != (len(truth),) or (mask.size and mask.dtype != np.bool_):
        raise ConfigError(
            f"valid must hold one boolean per user ({len(truth)}), got shape {mask.shape} of "
            f"{mask.dtype}"
        )
    return mask.astype(bool)


def _blank_invalid(recommendations: Any, truth: Any, mask: npt.NDArray[np.bool_]) -> Any:
    """The recommendations with every invalid user's list emptied."""
    if isinstance(truth, Mapping):
        flags = mask.tolist()
        return {u: recommendations.get(u) if ok else () for u, ok in zip(truth, flags, strict=True)}
    if isinstance(recommendations, np.ndarray) and recommendations.ndim == 2:
        out = recommendations.copy()
        out[~mask] = -1
        return out
    return [r if ok else () for r, ok in zip(recommendations, mask.tolist(), strict=True)]


def _keep(items: Any, truth: Any, mask: npt.NDArray[np.bool_]) -> Any:
    """Only the valid users' entries of aligned ``items`` (or of a mapping keyed by user)."""
    if isinstance(truth, Mapping):
        chosen = [u for u, ok in zip(truth, mask.tolist(), strict=True) if ok]
        return {u: items[u] for u in chosen}
    if isinstance(items, np.ndarray):
        return items[mask]
    return [x for x, ok in zip(items, mask.tolist(), strict=True) if ok]


def evaluate_validity(
    recommendations: Any,
    truth: Any,
    valid: Any,
    metrics: Sequence[str] = DEFAULT_METRICS,
    **options: Any,
) -> ValidityReport:
    """Strict and valid-only metrics of one run, and its validity rate (module docstring).

    ``recommendations`` and ``truth`` take the shapes of :func:`evaluate` (mappings by user or
    aligned sequences); ``options`` are passed to both :func:`evaluate` calls (``n_bootstrap``,
    ``seed``, ``empty_truth``, ...). ``valid``: see :func:`validity_mask`.

    >>> recs, truth = {"a": [1], "b": [], "c": [5]}, {"a": {1}, "b": {2}, "c": {5}}
    >>> r = evaluate_validity(recs, truth, {"a", "c"}, ["hit@1"], n_bootstrap=0)
    >>> r.strict.means, r.valid_only.means, r.validity_rate
    ({'hit@1': 0.6666666666666666}, {'hit@1': 1.0}, 0.6666666666666666)
    """
    mask = validity_mask(recommendations, truth, valid)
    strict = evaluate(_blank_invalid(recommendations, truth, mask), truth, metrics, **options)
    valid_recs = _keep(recommendations, truth, mask)
    valid_truth = _keep(truth, truth, mask)
    valid_only = evaluate(valid_recs, valid_truth, metrics, **options)
    users = list(truth) if isinstance(truth, Mapping) else list(range(len(truth)))
    return ValidityReport(
        strict=strict,
        valid_only=valid_only,
        n_valid=int(mask.sum()),
        n_total=len(users),
        invalid_users=[u for u, ok in zip(users, mask.tolist(), strict=True) if not ok],
    )
