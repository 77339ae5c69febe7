"""Figures: one like the study's Figure 2 (grouped bars of P, R and F1 at 3 and 5 per backend),
and the summary figure (every backend on every truth, P@5 and NDCG@10 with intervals).

Both are drawn by :func:`llmrec.experiment.bars.bar_figure` (panels wrapped into a grid, one
legend below the panels, a y-axis fitted to the data, intervals drawn above the bars).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec.experiment.bars import BarPanel, BarSeries, bar_figure, save_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from llmrec.experiment.results import Summary

__all__ = [
    "FIGURE_METRICS",
    "metrics_figure",
    "summary_figure",
    "write_figure",
    "write_summary_figure",
]

FIGURE_METRICS = ["precision@3", "recall@3", "f1@3", "precision@5", "recall@5", "f1@5"]
_SHORT = {"precision": "P", "recall": "R", "f1": "F1"}


def _short(metric: str) -> str:
    name, _, k = metric.partition("@")
    return f"{_SHORT.get(name, name)}@{k}" if k else name


def _num(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def metrics_figure(results: dict[str, Any]) -> Figure:
    """One panel per data set of ``results`` (a ``results.json`` dict); a group of bars per
    metric, one bar per backend."""
    panels = []
    for name, ds in results.get("datasets", {}).items():
        if not ds.get("metrics"):
            continue
        series = []
        for label, report in ds["metrics"].items():
            cells = [report["metrics"].get(m, {}) for m in FIGURE_METRICS]
            series.append(
                BarSeries(
                    label=label,
                    values=[_num(c.get("mean")) for c in cells],
                    low=[_num(c.get("ci_low")) for c in cells],
                    high=[_num(c.get("ci_high")) for c in cells],
                )
            )
        panels.append(BarPanel(name, [_short(m) for m in FIGURE_METRICS], series))
    return bar_figure(panels)


def write_figure(path: Path, results: dict[str, Any]) -> None:
    """:func:`metrics_figure` as PNG."""
    save_png(metrics_figure(results), path)


def summary_figure(summary: Summary) -> Figure:
    """One panel per summary metric; a group of bars per truth, one bar per backend, 95 %
    intervals as error bars."""
    panels = []
    for metric in summary.metrics:
        series = []
        for label in summary.backends:
            cells = [summary.cell(label, t, metric) for t in summary.truths]
            series.append(BarSeries.from_cells(label, cells))
        title = _short(metric) if metric.startswith("precision") else metric.upper()
        panels.append(BarPanel(title, list(summary.truths), series))
    return bar_figure(panels, panel_width=max(5.0, 1.3 * len(summary.truths) + 2.0))


def write_summary_figure(path: Path, summary: Summary) -> None:
    """:func:`summary_figure` as PNG."""
    save_png(summary_figure(summary), path)
