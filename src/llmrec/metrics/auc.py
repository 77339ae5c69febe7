"""AUC of pointwise scores (TALLRec's yes/no task) and its per-user average, gAUC.

* :func:`auc`: the area under the ROC curve of ``scores`` against binary ``labels``, the
  probability that a random positive scores above a random negative, ties counting one half
  (the Mann-Whitney U statistic over ``n_pos·n_neg``; Hanley & McNeil, Radiology 1982).
  Computed from mid-ranks: ``AUC = (R_pos − n_pos(n_pos+1)/2) / (n_pos·n_neg)`` where
  ``R_pos`` is the sum of the positives' ranks (ties share their mean rank). It equals
  ``sklearn.metrics.roc_auc_score`` (pinned by a test). TALLRec reports it on its test split.
* :func:`gauc`: the mean of each user's own AUC over users that have both a positive and a
  negative row (group AUC, unweighted; Zhou et al., "Deep Interest Network", KDD 2018, weight
  users by their rows instead).
* :func:`evaluate_auc`: both, as a :class:`~llmrec.metrics.MetricReport` whose per-user values
  are the users' AUCs (metric ``"gauc"``), so bootstrap intervals over users and
  :func:`~llmrec.metrics.compare`'s paired tests work as for the ranking metrics; the pooled
  AUC and its user-bootstrap interval are in ``options["auc"]``.
* :func:`compare_auc`: the pooled AUC of two scorings of the same rows, paired: the difference,
  its percentile interval and a two-sided bootstrap p-value, resampling users (each with all
  their rows) once for both scorings, so the correlation between them is kept (the bootstrap
  alternative to DeLong et al., Biometrics 1988).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError
from llmrec.metrics._bootstrap import bootstrap_ci
from llmrec.metrics.report import MetricReport

__all__ = ["auc", "compare_auc", "evaluate_auc", "gauc", "per_user_auc"]


def _arrays(
    labels: npt.ArrayLike, scores: npt.ArrayLike
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise ConfigError(
            f"labels and scores must be 1-D of one length, got shapes {y.shape} and {s.shape}"
        )
    bad = ~np.isin(y, (0, 1)) if y.dtype != np.bool_ else np.zeros(y.shape, dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ConfigError(f"labels must be 0/1 or booleans; row {i} is {y[i].item()!r}")
    if not np.isfinite(s).all():
        i = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ConfigError(f"scores must be finite; row {i} is {s[i].item()!r}")
    return y.astype(bool), s


def _auc(y: npt.NDArray[np.bool_], s: npt.NDArray[np.float64]) -> float:
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # here, so that importing llmrec.metrics stays light

    ranks = rankdata(s, method="average")
    r_pos = float(ranks[y].sum())
    return (r_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """ROC AUC of ``scores`` for binary ``labels`` (ties count one half; module docstring).

    Raises :class:`~llmrec.errors.ConfigError` when only one class is present (AUC undefined).
    """
    y, s = _arrays(labels, scores)
    value = _auc(y, s)
    if np.isnan(value):
        raise ConfigError(
            f"AUC needs both classes; the labels hold {int(y.sum())} positive and "
            f"{int(y.size - y.sum())} negative rows"
        )
    return value


def per_user_auc(
    users: Sequence[Hashable] | npt.ArrayLike, labels: npt.ArrayLike, scores: npt.ArrayLike
) -> tuple[list[Hashable], npt.NDArray[np.float64]]:
    """Each user's AUC over their own rows, for users with both classes (in first-seen order)."""
    y, s = _arrays(labels, scores)
    u = list(np.asarray(users).tolist())
    if len(u) != y.size:
        raise ConfigError(f"users has {len(u)} entries for {y.size} labels")
    rows: dict[Hashable, list[int]] = {}
    for i, user in enumerate(u):
        rows.setdefault(user, []).append(i)
    kept: list[Hashable] = []
    values: list[float] = []
    for user, idx in rows.items():
        value = _auc(y[idx], s[idx])
        if not np.isnan(value):
            kept.append(user)
            values.append(value)
    return kept, np.asarray(values, dtype=np.float64)


def gauc(
    users: Sequence[Hashable] | npt.ArrayLike, labels: npt.ArrayLike, scores: npt.ArrayLike
) -> float:
    """The mean of the per-user AUCs (users with one class only are left out)."""
    kept, values = per_user_auc(users, labels, scores)
    if not kept:
        raise ConfigError("gAUC needs at least one user with both a positive and a negative row")
    return float(values.mean())


def evaluate_auc(
    users: Sequence[Hashable] | npt.ArrayLike,
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> MetricReport:
    """AUC and gAUC with bootstrap intervals (resampling users), as a ``MetricReport``.

    ``values["gauc"]`` holds each kept user's AUC (``compare`` pairs two reports by user);
    ``options["auc"]`` the pooled AUC over every row, its interval (users resampled with all
    their rows, the same seed) and the row counts.
    """
    y, s = _arrays(labels, scores)
    pooled = auc(y, s)
    u = np.asarray(users)
    kept, values = per_user_auc(u, y, s)
    lo, hi = bootstrap_ci(values[:, None], n_bootstrap, confidence, seed)
    groups: dict[Hashable, list[int]] = {}
    for i, user in enumerate(u.tolist()):
        groups.setdefault(user, []).append(i)
    pooled_ci = _pooled_ci(list(groups.values()), y, s, n_bootstrap, confidence, seed)
    n_users = len(groups)
    options: dict[str, Any] = {
        "auc": {"mean": pooled, "ci_low": pooled_ci[0], "ci_high": pooled_ci[1]},
        "n_rows": int(y.size),
        "n_positive": int(y.sum()),
        "n_users": n_users,
    }
    return MetricReport(
        users=kept,
        values={"gauc": values},
        means={"gauc": float(values.mean()) if values.size else float("nan")},
        ci={"gauc": (float(lo[0]), float(hi[0]))},
        n_evaluated=len(kept),
        n_skipped=n_users - len(kept),
        duplicate_rate=0.0,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        seed=seed,
        options=options,
    )


def _pooled_ci(
    groups: list[list[int]],
    y: npt.NDArray[np.bool_],
    s: npt.NDArray[np.float64],
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> tuple[float | None, float | None]:
    """Percentile interval of the pooled AUC, resampling users (each with all their rows)."""
    if n_bootstrap == 0 or not groups:
        return None, None
    rng = np.random.default_rng(seed)
    index = [np.asarray(g, dtype=np.intp) for g in groups]
    draws = []
    for _ in range(n_bootstrap):
        pick = rng.integers(0, len(index), size=len(index))
        rows = np.concatenate([index[j] for j in pick])
        value = _auc(y[rows], s[rows])
        if not np.isnan(value):
            draws.append(value)
    if not draws:
        return None, None
    a = (1.0 - confidence) / 2.0
    low, high = np.quantile(np.asarray(draws), [a, 1.0 - a])
    return float(low), float(high)


def compare_auc(
    users: Sequence[Hashable] | npt.ArrayLike,
    labels: npt.ArrayLike,
    scores_a: npt.ArrayLike,
    scores_b: npt.ArrayLike,
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Paired comparison of the pooled AUC of ``scores_a`` and ``scores_b`` on the same rows.

    Returns ``{"auc_a", "auc_b", "diff", "ci_low", "ci_high", "pvalue", "n_bootstrap"}``:
    ``diff = AUC(a) − AUC(b)``; the interval is the percentile interval of the difference over
    ``n_bootstrap`` user resamples (the same resample for both, so the pairing is kept); the
    p-value is two-sided, ``min(1, 2·min(#(d ≤ 0) + 1, #(d ≥ 0) + 1) / (B + 1))`` over the
    resampled differences ``d`` (``None`` without resamples). Resamples with one class only are
    left out.
    """
    y, a = _arrays(labels, scores_a)
    _, b = _arrays(labels, scores_b)
    diff = auc(y, a) - auc(y, b)
    groups: dict[Hashable, list[int]] = {}
    u = np.asarray(users).tolist()
    if len(u) != y.size:
        raise ConfigError(f"users has {len(u)} entries for {y.size} labels")
    for i, user in enumerate(u):
        groups.setdefault(user, []).append(i)
    index = [np.asarray(g, dtype=np.intp) for g in groups.values()]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_bootstrap):
        pick = rng.integers(0, len(index), size=len(index))
        rows = np.concatenate([index[j] for j in pick])
        da, db = _auc(y[rows], a[rows]), _auc(y[rows], b[rows])
        if not np.isnan(da):
            draws.append(da - db)
    out: dict[str, Any] = {
        "auc_a": auc(y, a),
        "auc_b": auc(y, b),
        "diff": diff,
        "ci_low": None,
        "ci_high": None,
        "pvalue": None,
        "n_bootstrap": len(draws),
    }
    if draws:
        d = np.asarray(draws)
        q = (1.0 - confidence) / 2.0
        low, high = np.quantile(d, [q, 1.0 - q])
        below, above = int((d <= 0).sum()) + 1, int((d >= 0).sum()) + 1
        out.update(
            ci_low=float(low),
            ci_high=float(high),
            pvalue=min(1.0, 2.0 * min(below, above) / (d.size + 1)),
        )
    return out
