"""Figures: one like the study's Figure 2 (grouped bars of P, R and F1 at 3 and 5 per backend),
and the summary figure (every backend on every truth, P@5 and NDCG@10 with intervals)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec._io import atomic_open

if TYPE_CHECKING:
    from llmrec.experiment.results import Summary

__all__ = [
    "FIGURE_METRICS",
    "bars_with_intervals",
    "pyplot",
    "save_png",
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


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (files only: no display is needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def bars_with_intervals(cells: Sequence[Any]) -> tuple[Any, Any]:
    """Bar heights and error bars of result cells (``mean``, ``ci_low``, ``ci_high``; a cell
    may be ``None``): the means (NaN where missing) and the distances to the 95 % interval
    below and above (0 where unknown), as ``ax.bar(..., yerr=...)`` takes them."""
    import numpy as np

    values = np.array([_num(c.mean if c else None) for c in cells], dtype=float)
    low = np.array([_num(c.ci_low if c else None) for c in cells], dtype=float)
    high = np.array([_num(c.ci_high if c else None) for c in cells], dtype=float)
    return values, np.nan_to_num(np.vstack([values - low, high - values]), nan=0.0)


def save_png(fig: Any, path: Path) -> None:
    """Write ``fig`` to ``path`` as PNG atomically and close it; no matplotlib version in the
    file's metadata, so the same figure gives the same bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    pyplot().close(fig)
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getvalue())


def write_figure(path: Path, results: dict[str, Any]) -> None:
    """One panel per data set; a group of bars per metric, one bar per backend (PNG)."""
    import numpy as np

    plt = pyplot()

    datasets = [(n, d) for n, d in results.get("datasets", {}).items() if d.get("metrics")]
    n_panels = max(len(datasets), 1)
    fig, axes = plt.subplots(1, n_panels, figsize=(6.5 * n_panels, 4.2), squeeze=False)
    for ax, (name, ds) in zip(axes[0], datasets, strict=False):
        backends = list(ds["metrics"])
        x = np.arange(len(FIGURE_METRICS))
        width = 0.8 / max(len(backends), 1)
        for i, label in enumerate(backends):
            cells = ds["metrics"][label]["metrics"]
            values = np.array(
                [_num(cells.get(m, {}).get("mean")) for m in FIGURE_METRICS], dtype=float
            )
            low = np.array([_num(cells.get(m, {}).get("ci_low")) for m in FIGURE_METRICS])
            high = np.array([_num(cells.get(m, {}).get("ci_high")) for m in FIGURE_METRICS])
            err = np.nan_to_num(np.vstack([values - low, high - values]), nan=0.0)
            ax.bar(
                x + (i - (len(backends) - 1) / 2) * width,
                values,
                width,
                label=label,
                yerr=err,
                capsize=2,
            )
        ax.set_xticks(x, [_short(m) for m in FIGURE_METRICS])
        ax.set_ylim(0, 1)
        ax.set_title(name)
        ax.set_ylabel("mean over test users")
        ax.legend(fontsize="small", ncols=2)
        ax.grid(axis="y", alpha=0.3)
    if not datasets:
        axes[0][0].text(0.5, 0.5, "no backend evaluated", ha="center", va="center")
    fig.tight_layout()
    save_png(fig, path)


def write_summary_figure(path: Path, summary: Summary) -> None:
    """One panel per summary metric; a group of bars per truth, one bar per backend, 95 %
    intervals as error bars (PNG)."""
    import numpy as np

    plt = pyplot()

    n_panels = max(len(summary.metrics), 1)
    width_in = max(5.0, 1.3 * len(summary.truths) + 2.0)
    fig, axes = plt.subplots(1, n_panels, figsize=(width_in * n_panels, 4.2), squeeze=False)
    x = np.arange(len(summary.truths))
    width = 0.8 / max(len(summary.backends), 1)
    for ax, metric in zip(axes[0], summary.metrics, strict=False):
        for i, label in enumerate(summary.backends):
            cells = [summary.cell(label, t, metric) for t in summary.truths]
            values, err = bars_with_intervals(cells)
            ax.bar(
                x + (i - (len(summary.backends) - 1) / 2) * width,
                values,
                width,
                label=label,
                yerr=err,
                capsize=2,
            )
        ax.set_xticks(x, summary.truths)
        ax.set_ylim(0, 1)
        ax.set_title(_short(metric) if metric.startswith("precision") else metric.upper())
        ax.set_ylabel("mean over test users")
        ax.legend(fontsize="small", ncols=2)
        ax.grid(axis="y", alpha=0.3)
    if not summary.metrics:
        axes[0][0].text(0.5, 0.5, "no backend evaluated", ha="center", va="center")
    fig.tight_layout()
    save_png(fig, path)
