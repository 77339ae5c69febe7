"""``MetricReport``: what :func:`~llmrec.metrics.evaluate` returns.

Per-user values (aligned with ``users``), means, bootstrap confidence intervals and the counts
a reader needs to trust the means: users evaluated, users skipped for an empty truth set, users
with no recommendations, recommendation lists for unknown users, and the duplicate rate.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from llmrec.errors import ConfigError
from llmrec.metrics.table import html_table, text_table

__all__ = ["MetricReport"]


@dataclass(frozen=True, repr=False)
class MetricReport:
    """Results of one evaluation.

    ``values[name][i]`` is the score of ``users[i]`` on metric ``name``; only evaluated users are
    listed. ``ci[name]`` is the ``(low, high)`` percentile-bootstrap interval of the mean at
    ``confidence`` (``nan`` when ``n_bootstrap`` is 0). ``n_skipped`` counts users left out for an
    empty truth set (``empty_truth="skip"``), ``n_missing`` evaluated users with no
    recommendation list (scored as an empty list, so 0), ``n_ignored`` recommendation lists of
    users absent from the truth. ``duplicate_rate`` = repeated entries / all entries of the
    evaluated users' lists. ``head_share`` (when ``evaluate`` was given a head) = recommended
    entries in the head / all entries. ``repr`` is one short line; ``str`` is the table.
    """

    users: list[Hashable]
    values: dict[str, npt.NDArray[np.float64]]
    means: dict[str, float]
    ci: dict[str, tuple[float, float]]
    n_evaluated: int
    n_skipped: int
    duplicate_rate: float
    n_missing: int = 0
    n_ignored: int = 0
    confidence: float = 0.95
    n_bootstrap: int = 1000
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    head_share: float | None = None

    def __repr__(self) -> str:
        means = ", ".join(f"{name!r}: {value:.4g}" for name, value in self.means.items())
        return (
            f"MetricReport(n_evaluated={self.n_evaluated}, n_skipped={self.n_skipped}, "
            f"means={{{means}}})"
        )

    @property
    def metrics(self) -> list[str]:
        """Metric names, in the order they were requested."""
        return list(self.values)

    def __getitem__(self, name: str) -> float:
        """The mean of metric ``name``."""
        if name not in self.means:
            raise ConfigError(f"metric {name!r} is not in this report (has {self.metrics})")
        return self.means[name]

    def _rows(self) -> list[list[str]]:
        rows = []
        for name in self.metrics:
            lo, hi = self.ci[name]
            ci = "" if np.isnan(lo) else f"[{lo:.4f}, {hi:.4f}]"
            rows.append([name, f"{self.means[name]:.4f}", ci])
        return rows

    def _header(self) -> list[str]:
        return ["metric", "mean", f"{round(100 * self.confidence):d}% CI"]

    def _footer(self) -> str:
        text = (
            f"users evaluated: {self.n_evaluated:,}; skipped (empty truth): {self.n_skipped:,}; "
            f"no recommendations: {self.n_missing:,}; ignored (not in truth): {self.n_ignored:,}\n"
            f"duplicate rate: {self.duplicate_rate:.4f}"
        )
        if self.head_share is not None:
            text += f"; share of recommendations in the head: {self.head_share:.4f}"
        if self.n_bootstrap:
            text += f"; bootstrap: {self.n_bootstrap:,} resamples, seed {self.seed}"
        return text

    def to_table(self, *, html: bool = False) -> str:
        """The report as a table: one row per metric (mean and confidence interval), then the
        counts and rates; ``html=True`` gives an HTML table with them as its caption."""
        if html:
            return html_table(self._header(), self._rows(), caption=self._footer())
        return text_table(self._header(), self._rows()) + "\n" + self._footer()

    def __str__(self) -> str:
        return self.to_table()

    def _repr_html_(self) -> str:
        return self.to_table(html=True)

    def to_dict(self, *, per_user: bool = False) -> dict[str, Any]:
        """Plain JSON-ready dict (``nan`` becomes ``None``); ``per_user=True`` adds the users
        and their values."""
        out: dict[str, Any] = {
            "metrics": {
                name: {
                    "mean": None if np.isnan(self.means[name]) else self.means[name],
                    "ci_low": None if np.isnan(self.ci[name][0]) else float(self.ci[name][0]),
                    "ci_high": None if np.isnan(self.ci[name][1]) else float(self.ci[name][1]),
                }
                for name in self.metrics
            },
            "n_evaluated": self.n_evaluated,
            "n_skipped": self.n_skipped,
            "n_missing": self.n_missing,
            "n_ignored": self.n_ignored,
            "duplicate_rate": self.duplicate_rate,
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
            "options": dict(self.options),
        }
        if self.head_share is not None:
            out["head_share"] = None if np.isnan(self.head_share) else self.head_share
        if per_user:
            out["users"] = [u.item() if isinstance(u, np.generic) else u for u in self.users]
            out["values"] = {name: v.tolist() for name, v in self.values.items()}
        return out

    def to_dataframe(self) -> Any:
        """Per-user values as a pandas DataFrame (index ``user``, one column per metric).

        pandas is optional: a clear :class:`~llmrec.errors.ConfigError` says how to install it.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ConfigError(
                "MetricReport.to_dataframe needs pandas; install it with `pip install pandas`"
            ) from None
        frame = pd.DataFrame(self.values, index=pd.Index(self.users, name="user"))
        return frame
